/*
 * sse_client: many subscribers of GET /api/v1/sales/events in one process, for bench/events.sh,
 * and one slow subscriber for the black-box tests.
 *
 *   sse-client subscribe PORT PATH CONNECTIONS SECONDS [PROBE_SKU PROBE_INTERVAL_MS]
 *     Opens CONNECTIONS streams on 127.0.0.1:PORT (epoll, one thread), prints "READY <n>" once all
 *     answered 200, and reads them for SECONDS. With PROBE_SKU, a second thread buys PROBE_SKU every
 *     PROBE_INTERVAL_MS as a new user and notes when each request left and the purchase's sequence
 *     k; a stream shows that purchase with the first stock <= initialStock - k (sequences follow
 *     decision order). Every 10th stream keeps the times of its stock changes, and the delay from
 *     each probe's request to each such stream's event is the measure. Prints one RESULT line.
 *
 *   sse-client slow PORT PATH RCVBUF PAUSE_MS
 *     One stream with a kernel receive buffer of RCVBUF bytes (set before connecting) that reads
 *     nothing for PAUSE_MS (0: never; -1: until SIGUSR1), then prints every line of the body as it
 *     comes, and "EOF" when the server closes. Prints "CONNECTED" once the request is sent.
 *
 * Plain HTTP/1.1 parsing of exactly what the server sends (a chunked body); not a general client.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 2048
#define SAMPLE_EVERY   10
#define MAX_PROBES     100000

static int64_t now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void die(const char *what)
{
    fprintf(stderr, "sse-client: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ---- one stream's parser: status line and headers, chunks, SSE lines ---- */

typedef enum { HEADERS, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, DONE } parse_state_t;

typedef struct {
    int fd;
    parse_state_t state;
    bool status_ok;
    bool ready; /* answered 200 and the headers are in */
    size_t chunk_left;
    char line[LINE_MAX_BYTES];
    size_t line_len;
    char body_line[LINE_MAX_BYTES];
    size_t body_line_len;
    int64_t stock; /* the latest told, -1 before the first */
    int64_t initial_stock;
    bool sampled;
    int64_t *times; /* sampled streams: when each stock change arrived */
    int64_t *stocks;
    size_t changes, capacity;
    uint64_t events, pings;
} stream_t;

static bool echo_lines; /* slow mode prints what it reads */

static int64_t json_int(const char *json, const char *key)
{
    const char *at = strstr(json, key);
    return at != NULL ? strtoll(at + strlen(key), NULL, 10) : -1;
}

static void on_data(stream_t *stream, const char *json)
{
    ++stream->events;
    int64_t stock = json_int(json, "\"stock\":");
    if (strstr(json, "\"type\":\"initial\"") != NULL)
        stream->initial_stock = json_int(json, "\"initialStock\":");
    if (stock < 0 || stock == stream->stock)
        return;
    stream->stock = stock;
    if (!stream->sampled)
        return;
    if (stream->changes == stream->capacity) {
        stream->capacity = stream->capacity == 0 ? 256 : stream->capacity * 2;
        stream->times = realloc(stream->times, stream->capacity * sizeof(*stream->times));
        stream->stocks = realloc(stream->stocks, stream->capacity * sizeof(*stream->stocks));
        if (stream->times == NULL || stream->stocks == NULL)
            die("realloc");
    }
    stream->times[stream->changes] = now_us();
    stream->stocks[stream->changes++] = stock;
}

static void on_body_line(stream_t *stream, const char *line)
{
    if (echo_lines) {
        printf("%s\n", line);
        fflush(stdout);
    }
    if (strncmp(line, "data: ", 6) == 0)
        on_data(stream, line + 6);
    else if (line[0] == ':')
        ++stream->pings;
}

static void feed_body(stream_t *stream, const char *bytes, size_t len)
{
    for (size_t i = 0; i < len; ++i) {
        if (bytes[i] == '\n') {
            stream->body_line[stream->body_line_len] = '\0';
            if (stream->body_line_len > 0)
                on_body_line(stream, stream->body_line);
            stream->body_line_len = 0;
        } else if (stream->body_line_len < LINE_MAX_BYTES - 1) {
            stream->body_line[stream->body_line_len++] = bytes[i];
        }
    }
}

/* Takes a header or chunk-size line: true once it is complete (in stream->line, without CRLF). */
static bool take_line(stream_t *stream, char c)
{
    if (c == '\n') {
        if (stream->line_len > 0 && stream->line[stream->line_len - 1] == '\r')
            --stream->line_len;
        stream->line[stream->line_len] = '\0';
        stream->line_len = 0;
        return true;
    }
    if (stream->line_len < LINE_MAX_BYTES - 1)
        stream->line[stream->line_len++] = c;
    return false;
}

static void feed(stream_t *stream, const char *bytes, size_t len)
{
    size_t i = 0;
    while (i < len && stream->state != DONE) {
        switch (stream->state) {
        case HEADERS:
            if (take_line(stream, bytes[i++])) {
                if (strncmp(stream->line, "HTTP/1.1 ", 9) == 0)
                    stream->status_ok = strncmp(stream->line + 9, "200", 3) == 0;
                else if (stream->line[0] == '\0') {
                    stream->ready = stream->status_ok;
                    stream->state = stream->status_ok ? CHUNK_SIZE : DONE;
                }
            }
            break;
        case CHUNK_SIZE:
            if (take_line(stream, bytes[i++])) {
                stream->chunk_left = strtoul(stream->line, NULL, 16);
                stream->state = stream->chunk_left == 0 ? DONE : CHUNK_DATA;
            }
            break;
        case CHUNK_DATA: {
            size_t take = len - i < stream->chunk_left ? len - i : stream->chunk_left;
            feed_body(stream, bytes + i, take);
            i += take;
            if ((stream->chunk_left -= take) == 0)
                stream->state = CHUNK_END;
            break;
        }
        case CHUNK_END:
            if (take_line(stream, bytes[i++]))
                stream->state = CHUNK_SIZE;
            break;
        case DONE:
            break;
        }
    }
}

/* ---- connections ---- */

static struct sockaddr_in server_address(int port)
{
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    return address;
}

static void send_all(int fd, const char *text)
{
    size_t len = strlen(text), sent = 0;
    while (sent < len) {
        ssize_t n = write(fd, text + sent, len - sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("write");
        sent += (size_t)n;
    }
}

static int connect_blocking(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0)
        die("SO_RCVBUF");
    struct sockaddr_in address = server_address(port);
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
        die("connect");
    return fd;
}

static void request(int fd, const char *path)
{
    char text[1024];
    snprintf(text, sizeof(text), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
             path);
    send_all(fd, text);
}

/* ---- the probe buyer ---- */

typedef struct {
    int port;
    const char *sku;
    int interval_ms;
    int64_t until_us;
    size_t count;
    int64_t sent_us[MAX_PROBES];
    int64_t sequence[MAX_PROBES];
} prober_t;

/* One purchase on a kept-alive connection; returns the purchase's sequence, or -1. */
static int64_t buy(int fd, const char *sku, const char *user)
{
    char body[256], text[1024];
    snprintf(body, sizeof(body), "{\"sku\":\"%s\"}", sku);
    snprintf(text, sizeof(text),
             "POST /api/v1/purchases HTTP/1.1\r\nHost: 127.0.0.1\r\nX-User-Id: %s\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             user, strlen(body), body);
    send_all(fd, text);
    char reply[4096];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, reply + got, sizeof(reply) - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        reply[got] = '\0';
        const char *end = strstr(reply, "\r\n\r\n");
        const char *header = strcasestr(reply, "\r\ncontent-length:");
        long length = end != NULL && header != NULL ? strtol(header + 17, NULL, 10) : -1;
        if (end != NULL && length >= 0 && (size_t)(end + 4 - reply) + (size_t)length <= got)
            break;
    }
    /* "purchaseNo":"FS<sale_id>-<sequence>" */
    const char *number = strstr(reply, "\"purchaseNo\":\"FS");
    const char *dash = number != NULL ? strchr(number + 16, '-') : NULL;
    return dash != NULL ? strtoll(dash + 1, NULL, 10) : -1;
}

static void *probe(void *data)
{
    prober_t *prober = data;
    int fd = connect_blocking(prober->port, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    for (unsigned n = 0; now_us() < prober->until_us && prober->count < MAX_PROBES; ++n) {
        char user[64];
        snprintf(user, sizeof(user), "probe-%d-%u", (int)getpid(), n);
        int64_t sent = now_us();
        int64_t sequence = buy(fd, prober->sku, user);
        if (sequence > 0) {
            prober->sent_us[prober->count] = sent;
            prober->sequence[prober->count++] = sequence;
        }
        int64_t next = sent + (int64_t)prober->interval_ms * 1000;
        while (now_us() < next)
            usleep(1000);
    }
    close(fd);
    return NULL;
}

/* ---- subscribe: the bench ---- */

static int compare_int64(const void *left, const void *right)
{
    int64_t a = *(const int64_t *)left, b = *(const int64_t *)right;
    return (a > b) - (a < b);
}

/* Delays (us) from each probe's request to each sampled stream's first stock that shows it. */
static void report(stream_t *streams, size_t count, const prober_t *prober, size_t open_at_end)
{
    uint64_t events = 0, pings = 0;
    size_t samples = 0, missed = 0, capacity = 1024;
    int64_t *delays = malloc(capacity * sizeof(*delays));
    for (size_t i = 0; i < count; ++i) {
        stream_t *stream = &streams[i];
        events += stream->events;
        pings += stream->pings;
        for (size_t p = 0; prober != NULL && stream->sampled && p < prober->count; ++p) {
            int64_t shown = stream->initial_stock - prober->sequence[p];
            size_t low = 0, high = stream->changes; /* stocks only go down: the first <= shown */
            while (low < high) {
                size_t middle = (low + high) / 2;
                if (stream->stocks[middle] <= shown)
                    high = middle;
                else
                    low = middle + 1;
            }
            if (low == stream->changes) {
                ++missed;
                continue;
            }
            if (samples == capacity && (delays = realloc(delays, (capacity *= 2) * sizeof(*delays))) == NULL)
                die("realloc");
            delays[samples++] = stream->times[low] - prober->sent_us[p];
        }
    }
    qsort(delays, samples, sizeof(*delays), compare_int64);
    printf("RESULT subscribers=%zu open_at_end=%zu events=%" PRIu64 " pings=%" PRIu64 " probes=%zu", count,
           open_at_end, events, pings, prober != NULL ? prober->count : 0);
    if (samples > 0)
        printf(" delay_samples=%zu missed=%zu delay_p50_ms=%.1f delay_p99_ms=%.1f delay_max_ms=%.1f", samples,
               missed, delays[samples / 2] / 1000.0, delays[samples * 99 / 100] / 1000.0,
               delays[samples - 1] / 1000.0);
    printf("\n");
    free(delays);
}

static void raise_fd_limit(size_t wanted)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < wanted) {
        limit.rlim_cur = wanted < limit.rlim_max ? wanted : limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

static int subscribe(int port, const char *path, size_t count, int seconds, const char *probe_sku,
                     int probe_interval_ms)
{
    raise_fd_limit(count + 64);
    stream_t *streams = calloc(count, sizeof(*streams));
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    if (streams == NULL || epoll < 0)
        die("setup");
    /* In rounds, so that the listen backlog is never the limit. */
    size_t ready = 0, opened = 0;
    static char buffer[65536];
    while (ready < count) {
        for (size_t round = 0; opened < count && round < 500; ++round, ++opened) {
            stream_t *stream = &streams[opened];
            stream->fd = connect_blocking(port, 0);
            stream->stock = stream->initial_stock = -1;
            stream->sampled = opened % SAMPLE_EVERY == 0;
            request(stream->fd, path);
            fcntl(stream->fd, F_SETFL, O_NONBLOCK);
            struct epoll_event event = {.events = EPOLLIN, .data.ptr = stream};
            if (epoll_ctl(epoll, EPOLL_CTL_ADD, stream->fd, &event) != 0)
                die("epoll_ctl");
        }
        struct epoll_event events[512];
        int n = epoll_wait(epoll, events, 512, 100);
        for (int i = 0; i < n; ++i) {
            stream_t *stream = events[i].data.ptr;
            bool was_ready = stream->ready;
            ssize_t got = read(stream->fd, buffer, sizeof(buffer));
            if (got <= 0) {
                fprintf(stderr, "sse-client: a stream closed while connecting\n");
                return 1;
            }
            feed(stream, buffer, (size_t)got);
            if (stream->state == DONE && !stream->ready) {
                fprintf(stderr, "sse-client: a stream was refused: %s\n", stream->line);
                return 1;
            }
            ready += !was_ready && stream->ready;
        }
    }
    printf("READY %zu\n", ready);
    fflush(stdout);

    prober_t *prober = NULL;
    pthread_t thread;
    int64_t until = now_us() + (int64_t)seconds * 1000000;
    if (probe_sku != NULL) {
        prober = calloc(1, sizeof(*prober));
        *prober =
            (prober_t){.port = port, .sku = probe_sku, .interval_ms = probe_interval_ms, .until_us = until};
        pthread_create(&thread, NULL, probe, prober);
    }
    size_t open = count;
    while (now_us() < until) {
        struct epoll_event events[512];
        int n = epoll_wait(epoll, events, 512, 100);
        for (int i = 0; i < n; ++i) {
            stream_t *stream = events[i].data.ptr;
            ssize_t got = read(stream->fd, buffer, sizeof(buffer));
            if (got > 0) {
                feed(stream, buffer, (size_t)got);
            } else if (got == 0 || errno != EAGAIN) {
                epoll_ctl(epoll, EPOLL_CTL_DEL, stream->fd, NULL);
                --open;
            }
        }
    }
    /* The last probes' events are still on their way: give them a moment. */
    int64_t grace = now_us() + 1000000;
    while (now_us() < grace) {
        struct epoll_event events[512];
        int n = epoll_wait(epoll, events, 512, 50);
        for (int i = 0; i < n; ++i) {
            stream_t *stream = events[i].data.ptr;
            ssize_t got = read(stream->fd, buffer, sizeof(buffer));
            if (got > 0)
                feed(stream, buffer, (size_t)got);
        }
    }
    if (prober != NULL)
        pthread_join(thread, NULL);
    report(streams, count, prober, open);
    return 0;
}

/* ---- slow: the test's subscriber that does not read ---- */

static void on_usr1(int signal_number)
{
    (void)signal_number;
}

static int slow(int port, const char *path, int rcvbuf, int pause_ms)
{
    sigset_t usr1, previous;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &usr1, &previous);
    signal(SIGUSR1, on_usr1);
    int fd = connect_blocking(port, rcvbuf);
    request(fd, path);
    printf("CONNECTED\n");
    fflush(stdout);
    if (pause_ms == 0)
        for (;;)
            pause();
    if (pause_ms < 0)
        sigsuspend(&previous); /* returns once SIGUSR1 was handled */
    else
        usleep((useconds_t)pause_ms * 1000);
    echo_lines = true;
    stream_t *stream = calloc(1, sizeof(*stream));
    static char buffer[65536];
    for (;;) {
        ssize_t got = read(fd, buffer, sizeof(buffer));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        feed(stream, buffer, (size_t)got);
    }
    printf("EOF\n");
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    /* a connection the server closed is a failed read or write, not the end of the process */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 6 && strcmp(argv[1], "subscribe") == 0)
        return subscribe(atoi(argv[2]), argv[3], strtoul(argv[4], NULL, 10), atoi(argv[5]),
                         argc >= 8 ? argv[6] : NULL, argc >= 8 ? atoi(argv[7]) : 0);
    if (argc == 6 && strcmp(argv[1], "slow") == 0)
        return slow(atoi(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr,
            "usage: sse-client subscribe PORT PATH CONNECTIONS SECONDS [PROBE_SKU PROBE_INTERVAL_MS]\n"
            "       sse-client slow PORT PATH RCVBUF PAUSE_MS\n");
    return 2;
}
