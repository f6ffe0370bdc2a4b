#include "loadtest/lt_driver.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/strbuf.h"
#include "loadtest/lt_answer.h"
#include "loadtest/lt_client.h"

#define DRAIN_MAX_NS     (2 * INT64_C(1000000000))
#define CONNECT_WAIT_NS  (2 * INT64_C(1000000000)) /* how long the start waits for connections */
#define IDLE_WAIT_NS     (50 * 1000 * 1000)
#define BUYER_DIGITS_MAX 20

enum { RUNNING, STOPPING, ABANDONING };

/* The request texts, made once: a purchase is head + identity + buyer + tail. */
typedef struct {
    strbuf_t purchase_head; /* request line and headers up to the identity header's value */
    strbuf_t purchase_tail; /* end of the headers and the body */
    strbuf_t status;        /* the whole status poll */
    size_t prefix_len;      /* of "<prefix>-" in header mode, in purchase_head */
} templates_t;

typedef struct {
    lt_driver_t *driver;
    int index;
    pthread_t thread;
    lt_client_t *client;
    lt_stats_local_t stats;
    lt_buyers_t buyers;
    uint64_t own_buyers; /* buyers index, index + threads, ... below the total */
    uint64_t purchases_sent;
    int64_t status_credit; /* smooth weighted round robin between the kinds */
    int64_t purchase_credit;
    bool plan_done;
    double interval_ns; /* open loop: between two of this thread's due times */
    double phase_ns;    /* open loop: this thread's offset in the run's schedule */
    uint64_t due_index;
    uint64_t abandoned;
    uint64_t unsent;
    int64_t last_answer_ns;
    int64_t cut_ns; /* when the sending stopped short of the plan: the duration's end or the stop */
} worker_t;

struct lt_driver {
    const lt_driver_config_t *config;
    lt_stats_t *stats;
    templates_t templates;
    worker_t *workers;
    int started; /* threads running */
    atomic_int state;
    int64_t stop_ns;
    pthread_mutex_t lock; /* guards the counters below */
    pthread_cond_t changed;
    int connected; /* threads whose connections are open (or failed) */
    bool go;       /* start_ns is set: send */
    int finished;
};

static size_t format_u64(char *out, uint64_t value)
{
    char digits[BUYER_DIGITS_MAX];
    size_t len = 0;
    do {
        digits[len++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (size_t i = 0; i < len; i++)
        out[i] = digits[len - 1 - i];
    return len;
}

static int make_templates(templates_t *templates, const lt_driver_config_t *config, char *err,
                          size_t err_size)
{
    strbuf_t body;
    size_t longest;

    strbuf_init(&templates->purchase_head);
    strbuf_init(&templates->purchase_tail);
    strbuf_init(&templates->status);
    strbuf_init(&body);
    strbuf_appendf(&body, "{\"sku\":\"%s\"}", config->sku);
    strbuf_appendf(&templates->purchase_head,
                   "POST /api/v1/purchases HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n",
                   config->authority, body.len);
    if (config->tokens != NULL) {
        strbuf_append_cstr(&templates->purchase_head, "Authorization: Bearer ");
        templates->prefix_len = 0;
    } else {
        size_t before = templates->purchase_head.len;
        strbuf_appendf(&templates->purchase_head, "X-User-Id: %s-", config->user_prefix);
        templates->prefix_len = templates->purchase_head.len - before;
    }
    strbuf_append_cstr(&templates->purchase_tail, "\r\n\r\n");
    strbuf_append(&templates->purchase_tail, body.data, body.len);
    strbuf_appendf(&templates->status, "GET /api/v1/sales?sku=%s HTTP/1.1\r\nHost: %s\r\n\r\n", config->sku,
                   config->authority);
    strbuf_dispose(&body);
    longest = templates->purchase_head.len + templates->purchase_tail.len +
              (config->tokens != NULL ? LT_JWT_TOKEN_MAX : BUYER_DIGITS_MAX);
    if (templates->purchase_head.failed || templates->purchase_tail.failed || templates->status.failed) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    if (longest > LT_CLIENT_REQUEST_MAX || templates->status.len > LT_CLIENT_REQUEST_MAX) {
        snprintf(err, err_size, "a request would exceed %d bytes", LT_CLIENT_REQUEST_MAX);
        return -1;
    }
    return 0;
}

static void dispose_templates(templates_t *templates)
{
    strbuf_dispose(&templates->purchase_head);
    strbuf_dispose(&templates->purchase_tail);
    strbuf_dispose(&templates->status);
}

/* Tags carry the kind in the low bit and the buyer above it. */
static uint64_t make_tag(lt_kind_t kind, uint64_t buyer)
{
    return buyer << 1 | (kind == LT_KIND_STATUS ? 1 : 0);
}

/* Which kind goes next: the smooth weighted round robin spreads the kinds evenly. */
static lt_kind_t next_kind(worker_t *worker)
{
    const lt_driver_config_t *config = worker->driver->config;
    int total = config->status_weight + config->purchase_weight;

    worker->status_credit += config->status_weight;
    worker->purchase_credit += config->purchase_weight;
    if (worker->purchase_credit >= worker->status_credit) {
        worker->purchase_credit -= total;
        return LT_KIND_PURCHASE;
    }
    worker->status_credit -= total;
    return LT_KIND_STATUS;
}

/* Writes the next request of the plan into conn and sends it. */
static void send_next(worker_t *worker, lt_conn_t *conn, int64_t scheduled_ns, int64_t now_ns)
{
    lt_driver_t *driver = worker->driver;
    const lt_driver_config_t *config = driver->config;
    const templates_t *templates = &driver->templates;
    char *out = lt_client_buffer(conn), *at = out;
    lt_kind_t kind = next_kind(worker);
    uint64_t buyer = 0, local;
    lt_request_t request = {.scheduled_ns = scheduled_ns, .sent_ns = now_ns};

    if (kind == LT_KIND_STATUS) {
        memcpy(at, templates->status.data, templates->status.len);
        at += templates->status.len;
    } else {
        local = worker->purchases_sent / (uint64_t)config->attempts;
        buyer = local * (uint64_t)config->threads + (uint64_t)worker->index;
        worker->purchases_sent++;
        if (worker->purchases_sent == worker->own_buyers * (uint64_t)config->attempts)
            worker->plan_done = true;
        memcpy(at, templates->purchase_head.data, templates->purchase_head.len);
        at += templates->purchase_head.len;
        if (config->tokens != NULL) {
            size_t token_len;
            const char *token = lt_jwt_token(config->tokens, buyer, &token_len);
            memcpy(at, token, token_len);
            at += token_len;
        } else {
            at += format_u64(at, buyer);
        }
        memcpy(at, templates->purchase_tail.data, templates->purchase_tail.len);
        at += templates->purchase_tail.len;
        lt_buyers_mark(&worker->buyers, local, LT_BUYER_SENT);
    }
    request.tag = make_tag(kind, buyer);
    lt_client_send(worker->client, conn, (size_t)(at - out), &request);
}

/* Whether the answer names the buyer that asked ("<prefix>-<buyer>"); an absent userId passes. */
static bool names_buyer(const lt_driver_t *driver, const lt_answer_t *answer, uint64_t buyer)
{
    const char *prefix = driver->config->user_prefix;
    size_t prefix_len = strlen(prefix);
    char digits[BUYER_DIGITS_MAX];
    size_t digits_len;

    if (answer->user_id == NULL)
        return true;
    digits_len = format_u64(digits, buyer);
    return answer->user_id_len == prefix_len + 1 + digits_len &&
           memcmp(answer->user_id, prefix, prefix_len) == 0 && answer->user_id[prefix_len] == '-' &&
           memcmp(answer->user_id + prefix_len + 1, digits, digits_len) == 0;
}

static void on_answer(void *context, const lt_request_t *request, const lt_response_t *response,
                      int64_t now_ns)
{
    worker_t *worker = context;
    int threads = worker->driver->config->threads;
    lt_kind_t kind = (request->tag & 1) ? LT_KIND_STATUS : LT_KIND_PURCHASE;
    uint64_t buyer = request->tag >> 1, local = buyer / (uint64_t)threads;
    lt_answer_t answer;
    const char *code;
    lt_class_t class_ = LT_CLASS_ERROR;
    uint8_t flag = LT_BUYER_UNKNOWN;

    lt_answer_scan(response->keep, response->keep_len, &answer);
    code = answer.code[0] != '\0' ? answer.code : "-";
    if (response->status == 429) {
        class_ = LT_CLASS_RATE_LIMITED;
        flag = LT_BUYER_REFUSED;
    } else if (response->status == 200 && answer.success == 1) {
        class_ = LT_CLASS_SUCCESS;
        code = kind == LT_KIND_PURCHASE ? "SUCCESS" : "OK";
        if (kind == LT_KIND_PURCHASE && !names_buyer(worker->driver, &answer, buyer)) {
            class_ = LT_CLASS_ERROR;
            code = "WRONG_BUYER";
        } else if (kind == LT_KIND_PURCHASE) {
            lt_buyers_success(&worker->buyers, local, buyer,
                              answer.purchase_no != NULL ? answer.purchase_no : "",
                              answer.purchase_no != NULL ? answer.purchase_no_len : 0);
            flag = 0;
        }
    } else if (response->status == 200 && answer.success == 0 && kind == LT_KIND_PURCHASE) {
        if (strcmp(code, "SOLD_OUT") == 0) {
            class_ = LT_CLASS_REJECTED;
            flag = LT_BUYER_SOLD_OUT;
        } else if (strcmp(code, "ALREADY_PURCHASED") == 0) {
            class_ = LT_CLASS_REJECTED;
            flag = LT_BUYER_ALREADY;
        } else if (strcmp(code, "SALE_NOT_ACTIVE") == 0) {
            class_ = LT_CLASS_REJECTED;
            flag = LT_BUYER_REFUSED;
        }
    } else if (response->status >= 400 && response->status < 500 && response->status != 408) {
        /* refused before any decision: no order came of it */
        flag = LT_BUYER_REFUSED;
    }
    if (kind == LT_KIND_PURCHASE && flag != 0)
        lt_buyers_mark(&worker->buyers, local, flag);
    worker->last_answer_ns = now_ns;
    lt_stats_record(&worker->stats, kind, response->status, code, class_, now_ns - request->scheduled_ns,
                    now_ns);
}

static void on_failure(void *context, const lt_request_t *request, lt_failure_t why, int64_t now_ns)
{
    worker_t *worker = context;
    static const char *const codes[] = {
        [LT_FAILURE_RESET] = "CONNECTION_CLOSED",
        [LT_FAILURE_TIMEOUT] = "TIMEOUT",
        [LT_FAILURE_INVALID] = "BAD_RESPONSE",
    };
    lt_kind_t kind;

    if (request == NULL) {
        lt_stats_connect_failure(&worker->stats);
        return;
    }
    kind = (request->tag & 1) ? LT_KIND_STATUS : LT_KIND_PURCHASE;
    if (kind == LT_KIND_PURCHASE)
        lt_buyers_mark(&worker->buyers, (request->tag >> 1) / (uint64_t)worker->driver->config->threads,
                       LT_BUYER_UNKNOWN);
    if (why == LT_FAILURE_ABANDONED) {
        worker->abandoned++;
        return;
    }
    /* a timeout's wait is latency the buyer saw; a broken connection's is not a service time */
    lt_stats_record(&worker->stats, kind, 0, codes[why], LT_CLASS_ERROR,
                    why == LT_FAILURE_TIMEOUT ? now_ns - request->scheduled_ns : -1, now_ns);
}

/*
 * Sends what the plan allows now (nothing due at or after end_ns); returns the time of the next due
 * request (open loop) or INT64_MAX.
 */
static int64_t dispatch(worker_t *worker, int64_t now_ns, int64_t end_ns)
{
    lt_driver_t *driver = worker->driver;
    lt_conn_t *conn;

    if (driver->config->rate <= 0) {
        while (!worker->plan_done && (conn = lt_client_ready(worker->client)) != NULL)
            send_next(worker, conn, now_ns, now_ns);
        return INT64_MAX;
    }
    while (!worker->plan_done) {
        int64_t due = driver->stats->start_ns +
                      (int64_t)(worker->phase_ns + (double)worker->due_index * worker->interval_ns);
        if (due >= end_ns)
            return INT64_MAX;
        if (due > now_ns)
            return (conn = lt_client_ready(worker->client)) != NULL ? due : INT64_MAX;
        if ((conn = lt_client_ready(worker->client)) == NULL)
            return INT64_MAX; /* late: it waits for an answer to free a connection, and the wait counts */
        send_next(worker, conn, due, now_ns);
        worker->due_index++;
    }
    return INT64_MAX;
}

static void finish(worker_t *worker)
{
    lt_driver_t *driver = worker->driver;
    pthread_mutex_lock(&driver->lock);
    driver->finished++;
    pthread_cond_broadcast(&driver->changed);
    pthread_mutex_unlock(&driver->lock);
}

static void *run_worker(void *arg)
{
    worker_t *worker = arg;
    lt_driver_t *driver = worker->driver;
    const lt_driver_config_t *config = driver->config;
    int connections =
        config->connections / config->threads + (worker->index < config->connections % config->threads);
    lt_client_handlers_t handlers = {.on_answer = on_answer, .on_failure = on_failure};
    char err[256];
    int64_t now, end, connect_deadline, drain_deadline;

    /* the loop, its sockets and buffers are made on the thread that uses them */
    worker->client =
        lt_client_create((const struct sockaddr *)&config->address, config->address_len, connections,
                         config->pipeline, config->timeout_ns, &handlers, worker, err, sizeof(err));
    connect_deadline = lt_now_ns() + CONNECT_WAIT_NS;
    if (worker->client == NULL) {
        log_error("loadtest", "%s", err);
        worker->plan_done = true;
    }
    /* wait for the handshakes, so that the storm starts on every connection at once */
    while (worker->client != NULL && lt_client_connecting(worker->client) > 0 &&
           lt_now_ns() < connect_deadline && atomic_load(&driver->state) == RUNNING)
        lt_client_poll(worker->client, lt_now_ns() + 10 * 1000 * 1000);
    pthread_mutex_lock(&driver->lock);
    driver->connected++;
    pthread_cond_broadcast(&driver->changed);
    while (!driver->go)
        pthread_cond_wait(&driver->changed, &driver->lock);
    pthread_mutex_unlock(&driver->lock);

    /* the thread keeps --duration itself, to the nanosecond, whenever the main thread gets to run */
    end = config->duration_ns > 0 ? driver->stats->start_ns + config->duration_ns : INT64_MAX;
    worker->last_answer_ns = driver->stats->start_ns;
    while (worker->client != NULL && atomic_load(&driver->state) == RUNNING) {
        int64_t next_due, wake;
        now = lt_now_ns();
        if (now >= end) {
            worker->cut_ns = end;
            break;
        }
        next_due = dispatch(worker, now, end);
        if (worker->plan_done && lt_client_in_flight(worker->client) == 0)
            break;
        wake = next_due < now + IDLE_WAIT_NS ? next_due : now + IDLE_WAIT_NS;
        lt_client_poll(worker->client, wake < end ? wake : end);
        lt_stats_tick(&worker->stats, lt_now_ns());
    }
    if (worker->cut_ns == 0 && !worker->plan_done)
        worker->cut_ns = driver->stop_ns; /* stopped (Ctrl-C) */
    if (worker->client != NULL && !worker->plan_done && config->rate > 0) {
        /* requests that were due before the cut but never found a free connection */
        double due =
            ((double)(worker->cut_ns - driver->stats->start_ns) - worker->phase_ns) / worker->interval_ns;
        if (due > (double)worker->due_index)
            worker->unsent = (uint64_t)ceil(due) - worker->due_index;
    }
    drain_deadline = lt_now_ns() + (config->timeout_ns < DRAIN_MAX_NS ? config->timeout_ns : DRAIN_MAX_NS);
    while (worker->client != NULL && lt_client_in_flight(worker->client) > 0 &&
           atomic_load(&driver->state) != ABANDONING && (now = lt_now_ns()) < drain_deadline)
        lt_client_poll(worker->client,
                       now + IDLE_WAIT_NS < drain_deadline ? now + IDLE_WAIT_NS : drain_deadline);
    if (worker->client != NULL)
        lt_client_abandon(worker->client, lt_now_ns());
    lt_stats_flush(&worker->stats);
    finish(worker);
    return NULL;
}

lt_driver_t *lt_driver_start(const lt_driver_config_t *config, lt_stats_t *stats, char *err, size_t err_size)
{
    lt_driver_t *driver = calloc(1, sizeof(*driver));
    int threads = config->threads;

    err[0] = '\0';
    if (driver == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    driver->config = config;
    driver->stats = stats;
    atomic_init(&driver->state, RUNNING);
    pthread_mutex_init(&driver->lock, NULL);
    {
        pthread_condattr_t attributes;
        pthread_condattr_init(&attributes);
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
        pthread_cond_init(&driver->changed, &attributes);
        pthread_condattr_destroy(&attributes);
    }
    if (make_templates(&driver->templates, config, err, err_size) != 0 ||
        (driver->workers = calloc((size_t)threads, sizeof(worker_t))) == NULL) {
        if (driver->workers == NULL && err[0] == '\0')
            snprintf(err, err_size, "out of memory");
        lt_driver_destroy(driver);
        return NULL;
    }
    for (int t = 0; t < threads; t++) {
        worker_t *worker = &driver->workers[t];
        worker->driver = driver;
        worker->index = t;
        worker->own_buyers =
            config->buyers > (uint64_t)t ? (config->buyers - 1 - (uint64_t)t) / (uint64_t)threads + 1 : 0;
        worker->plan_done = worker->own_buyers == 0 && config->purchase_weight > 0;
        if (config->rate > 0) {
            worker->interval_ns = 1e9 * threads / config->rate;
            worker->phase_ns = 1e9 * t / config->rate;
        }
        lt_buyers_init(&worker->buyers);
        if (lt_stats_local_init(&worker->stats, stats) != 0) {
            snprintf(err, err_size, "out of memory");
            lt_driver_destroy(driver);
            return NULL;
        }
    }
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&driver->workers[t].thread, NULL, run_worker, &driver->workers[t]) != 0) {
            snprintf(err, err_size, "cannot start client thread %d of %d", t + 1, threads);
            atomic_store(&driver->state, ABANDONING);
            break;
        }
        driver->started++;
    }
    pthread_mutex_lock(&driver->lock);
    while (driver->connected < driver->started)
        pthread_cond_wait(&driver->changed, &driver->lock);
    stats->start_ns = lt_now_ns();
    driver->go = true;
    pthread_cond_broadcast(&driver->changed);
    pthread_mutex_unlock(&driver->lock);
    if (driver->started < threads) {
        lt_driver_totals_t ignored;
        lt_driver_join(driver, &ignored);
        lt_driver_destroy(driver);
        return NULL;
    }
    return driver;
}

bool lt_driver_wait(lt_driver_t *driver, int64_t deadline_ns)
{
    struct timespec until = {.tv_sec = deadline_ns / 1000000000, .tv_nsec = deadline_ns % 1000000000};
    bool all;

    pthread_mutex_lock(&driver->lock);
    while (driver->finished < driver->started &&
           pthread_cond_timedwait(&driver->changed, &driver->lock, &until) == 0)
        ;
    all = driver->finished == driver->started;
    pthread_mutex_unlock(&driver->lock);
    return all;
}

void lt_driver_stop(lt_driver_t *driver, bool drain_now)
{
    int expected = RUNNING;
    int64_t now = lt_now_ns();

    if (atomic_load(&driver->state) == RUNNING)
        driver->stop_ns = now;
    if (!atomic_compare_exchange_strong(&driver->state, &expected, drain_now ? ABANDONING : STOPPING) &&
        drain_now)
        atomic_store(&driver->state, ABANDONING);
}

void lt_driver_join(lt_driver_t *driver, lt_driver_totals_t *totals)
{
    *totals = (lt_driver_totals_t){.start_ns = driver->stats->start_ns, .plan_completed = true};
    for (int t = 0; t < driver->started; t++) {
        worker_t *worker = &driver->workers[t];
        pthread_join(worker->thread, NULL);
        totals->abandoned += worker->abandoned;
        totals->unsent += worker->unsent;
        if (!worker->plan_done)
            totals->plan_completed = false;
        if (worker->last_answer_ns > totals->end_ns)
            totals->end_ns = worker->last_answer_ns;
        /* a cut run lasted at least until the cut; the answers drained after it count too */
        if (worker->cut_ns > totals->end_ns)
            totals->end_ns = worker->cut_ns;
        lt_client_destroy(worker->client);
        worker->client = NULL;
    }
    driver->started = 0;
    if (totals->end_ns < totals->start_ns)
        totals->end_ns = totals->start_ns;
}

int lt_driver_thread_count(const lt_driver_t *driver)
{
    return driver->config->threads;
}

const lt_buyers_t *lt_driver_buyers(const lt_driver_t *driver, int thread)
{
    return &driver->workers[thread].buyers;
}

void lt_driver_destroy(lt_driver_t *driver)
{
    if (driver == NULL)
        return;
    for (int t = 0; driver->workers != NULL && t < driver->config->threads; t++) {
        lt_stats_local_dispose(&driver->workers[t].stats);
        lt_buyers_dispose(&driver->workers[t].buyers);
        lt_client_destroy(driver->workers[t].client);
    }
    free(driver->workers);
    dispose_templates(&driver->templates);
    pthread_cond_destroy(&driver->changed);
    pthread_mutex_destroy(&driver->lock);
    free(driver);
}
