/*
 * send_floor: what one small write to a loopback TCP connection costs the writer, with nothing of
 * flashsale in the way — the floor under the live events' fan-out, which writes once per subscriber
 * per round.
 *
 *   send-floor CONNECTIONS ROUNDS WRITER_CPU READER_CPU
 *     Opens CONNECTIONS connections to itself, forks a reader pinned to READER_CPU that reads them
 *     all with epoll (as bench/sse_client.c does), and from WRITER_CPU writes 100 bytes to every
 *     connection, ROUNDS times, 100 ms apart. Prints each round's microseconds per write, then
 *     "RESULT median_us_per_write=..." over the rounds.
 *
 * On loopback the writer's write() also runs the reader's TCP input and wakes the reader, which a
 * network would do on the reader's machine: the floor printed is the cost on one machine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MESSAGE 100

static double now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec * 1e6 + (double)now.tv_nsec / 1e3;
}

static void die(const char *what)
{
    fprintf(stderr, "send-floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        die("sched_setaffinity");
}

/* Reads every connection until each has had rounds * MESSAGE bytes, then exits. */
static void read_all(const int *fds, int count, long want)
{
    int epoll = epoll_create1(0);
    if (epoll < 0)
        die("epoll_create1");
    for (int i = 0; i < count; ++i) {
        struct epoll_event event = {.events = EPOLLIN, .data.fd = fds[i]};
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        if (epoll_ctl(epoll, EPOLL_CTL_ADD, fds[i], &event) != 0)
            die("epoll_ctl");
    }
    struct epoll_event ready[256];
    char buffer[4096];
    for (long got = 0; got < want;) {
        int n = epoll_wait(epoll, ready, 256, 5000);
        if (n <= 0)
            die("epoll_wait (the writer stopped?)");
        for (int i = 0; i < n; ++i) {
            ssize_t r = read(ready[i].data.fd, buffer, sizeof(buffer));
            if (r > 0)
                got += r;
        }
    }
    exit(0);
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: send-floor CONNECTIONS ROUNDS WRITER_CPU READER_CPU\n");
        return 2;
    }
    int count = atoi(argv[1]), rounds = atoi(argv[2]), writer_cpu = atoi(argv[3]), reader_cpu = atoi(argv[4]);
    if (count <= 0 || rounds <= 0)
        return 2;
    int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(listener, 4096) != 0 || getsockname(listener, (struct sockaddr *)&address, &length) != 0)
        die("listen");
    int *writers = calloc((size_t)count, sizeof(int)), *readers = calloc((size_t)count, sizeof(int));
    if (writers == NULL || readers == NULL)
        die("calloc");
    for (int i = 0; i < count; ++i) {
        if ((readers[i] = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
            connect(readers[i], (struct sockaddr *)&address, sizeof(address)) != 0 ||
            (writers[i] = accept(listener, NULL, NULL)) < 0)
            die("connect (is the open file limit above twice CONNECTIONS?)");
        setsockopt(writers[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    pid_t reader = fork();
    if (reader < 0)
        die("fork");
    if (reader == 0) {
        pin(reader_cpu);
        read_all(readers, count, (long)count * rounds * MESSAGE);
    }
    pin(writer_cpu);
    char message[MESSAGE];
    memset(message, 'x', sizeof(message));
    double *per_write = calloc((size_t)rounds, sizeof(double));
    usleep(200000);
    for (int round = 0; round < rounds; ++round) {
        double started = now_us();
        for (int i = 0; i < count; ++i)
            if (write(writers[i], message, sizeof(message)) != (ssize_t)sizeof(message))
                die("write");
        per_write[round] = (now_us() - started) / count;
        printf("round %d: %.2f us per write\n", round, per_write[round]);
        usleep(100000);
    }
    int status;
    waitpid(reader, &status, 0);
    qsort(per_write, (size_t)rounds, sizeof(double), compare);
    printf("RESULT connections=%d rounds=%d median_us_per_write=%.2f\n", count, rounds,
           per_write[rounds / 2]);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
