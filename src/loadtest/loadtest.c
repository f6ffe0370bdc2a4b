#include "loadtest/loadtest.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "loadtest/lt_api.h"
#include "loadtest/lt_client.h"
#include "loadtest/lt_driver.h"
#include "loadtest/lt_jwt.h"
#include "loadtest/lt_options.h"
#include "loadtest/lt_report.h"
#include "loadtest/lt_run.h"
#include "loadtest/lt_summary.h"
#include "loadtest/lt_verify.h"

#define EXIT_BAD_INPUT    2
#define LIVE_OFFSET_NS    (300 * 1000 * 1000) /* the live line waits for the threads' 250 ms flush */
#define WAKE_NS           (100 * 1000 * 1000) /* how often the main thread looks at Ctrl-C */
#define STOCK_TIMEOUT_NS  (300 * 1000 * 1000)
#define SALE_HOURS        24
#define TOKEN_EXTRA_HOURS 1

/* Ctrl-C count: 1 stops the storm, 2 also stops waiting for answers and for the orders list. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int signal_number)
{
    (void)signal_number;
    if (interrupted < 2)
        interrupted++;
}

/* Where bad_input puts its line: the caller's err (see loadtest_main). */
static char *input_error;
static size_t input_error_size;

static int bad_input(const char *format, ...) __attribute__((format(printf, 1, 2)));
static int bad_input(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(input_error, input_error_size, format, args);
    va_end(args);
    return EXIT_BAD_INPUT;
}

static void random_hex(char *out, size_t digits, bool upper)
{
    unsigned char bytes[16];
    const char *alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
        /* no entropy source: the time still keeps runs apart */
        uint64_t now = (uint64_t)clock_now_ms() ^ (uint64_t)getpid() << 32;
        memcpy(bytes, &now, sizeof(now));
        memcpy(bytes + 8, &now, sizeof(now));
    }
    for (size_t i = 0; i < digits && i < 2 * sizeof(bytes); i++)
        out[i] = alphabet[(bytes[i / 2] >> (i % 2 ? 0 : 4)) & 15];
    out[digits] = '\0';
}

/* Enough descriptors for every connection, if the hard limit allows. */
static int raise_file_limit(int connections)
{
    struct rlimit limit;
    rlim_t needed = (rlim_t)connections + 64;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed)
        return 0;
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed)
        return -1;
    limit.rlim_cur = needed;
    return setrlimit(RLIMIT_NOFILE, &limit);
}

/* Output files are checked before the storm, so that a typo does not cost the run. */
static int check_outputs(const lt_options_t *options)
{
    const char *files[] = {options->report_path, options->json_path};
    for (size_t i = 0; i < 2; i++) {
        FILE *file;
        if (files[i] == NULL)
            continue;
        if ((file = fopen(files[i], "w")) == NULL)
            return bad_input("cannot write %s: %s", files[i], strerror(errno));
        fclose(file);
    }
    if (options->svg_dir != NULL && mkdir(options->svg_dir, 0755) != 0 && errno != EEXIST)
        return bad_input("cannot create %s: %s", options->svg_dir, strerror(errno));
    return 0;
}

/* Finds (or creates) the sale and checks the admin key; an exit status, or -1 to go on. */
static int prepare_sale(const lt_options_t *options, lt_api_t *api, const char *sku, lt_sale_t *sale)
{
    char err[512];
    lt_api_result_t result;
    lt_product_t product;

    if (options->create) {
        /* open for a day, or for the whole --duration if longer */
        int64_t hours = options->duration_ns / (3600 * LT_NS_PER_SECOND) + 1;
        result = lt_api_create_sale(api, options->admin_key, sku, options->stock,
                                    hours > SALE_HOURS ? hours : SALE_HOURS, err, sizeof(err));
        if (result == LT_API_UNAUTHORIZED)
            return bad_input("the admin key was refused (%s)", err);
        if (result != LT_API_OK)
            return bad_input("%s", err);
    }
    result = lt_api_get_sale(api, sku, 10 * LT_NS_PER_SECOND, sale, err, sizeof(err));
    if (result == LT_API_NOT_FOUND)
        return bad_input("no sale with sku %s at %s", sku, options->url_text);
    if (result != LT_API_OK)
        return bad_input("%s", err);
    if (options->admin_key != NULL && !options->create) {
        result = lt_api_get_product(api, options->admin_key, sku, &product, err, sizeof(err));
        if (result == LT_API_UNAUTHORIZED)
            return bad_input("the admin key was refused (%s)", err);
        if (result != LT_API_OK)
            return bad_input("%s", err);
    }
    if (strcmp(sale->state, "ACTIVE") != 0)
        log_warn("loadtest", "sale %s is %s: purchases will not succeed", sku, sale->state);
    return -1;
}

/*
 * Runs the storm with the live line until it ends: the plan done, the duration over (each client
 * thread keeps it) or Ctrl-C (then this thread stops the driver).
 */
static void storm(const lt_options_t *options, lt_driver_t *driver, lt_stats_t *stats, lt_api_t *api,
                  const char *sku, lt_driver_totals_t *totals)
{
    bool terminal = isatty(STDOUT_FILENO) == 1;
    int64_t start = stats->start_ns,
            end = options->duration_ns > 0 ? start + options->duration_ns : INT64_MAX;
    int elapsed = 1, stopped = 0;

    for (;;) {
        int64_t tick = start + elapsed * LT_NS_PER_SECOND + LIVE_OFFSET_NS, now = lt_now_ns(),
                wake = now + WAKE_NS;
        if (lt_driver_wait(driver, wake < tick ? wake : tick))
            break;
        now = lt_now_ns();
        if (interrupted > stopped) {
            stopped = interrupted;
            lt_driver_stop(driver, stopped > 1);
        }
        /* a live line for every whole second of sending (not for the drain after it) */
        if (now >= tick && stopped == 0 && tick - LIVE_OFFSET_NS <= end) {
            lt_sale_t sale;
            char err[256];
            int64_t stock = lt_api_get_sale(api, sku, STOCK_TIMEOUT_NS, &sale, err, sizeof(err)) == LT_API_OK
                                ? sale.stock
                                : -1;
            lt_summary_live(stdout, terminal, stats, elapsed, stock);
            elapsed = (int)((lt_now_ns() - start) / LT_NS_PER_SECOND) + 1;
        }
    }
    lt_driver_join(driver, totals);
    if (elapsed > 1)
        lt_summary_live_end(stdout, terminal);
}

static const char *identity_name(const lt_options_t *options, const lt_jwt_tokens_t *tokens)
{
    if (options->jwt_secret == NULL && options->jwt_private_key_file == NULL)
        return "X-User-Id header";
    return strcmp(tokens->algorithm, "HS256") == 0   ? "JWT HS256 bearer tokens"
           : strcmp(tokens->algorithm, "RS256") == 0 ? "JWT RS256 bearer tokens"
                                                     : "JWT ES256 bearer tokens";
}

int loadtest_main(int argc, char **argv, char *err_out, size_t err_out_size)
{
    lt_options_t options;
    char err[512], prefix[16], sku_buffer[16];
    const char *sku;
    lt_api_t api;
    lt_sale_t sale;
    lt_jwt_tokens_t tokens = {0};
    lt_driver_config_t config;
    lt_stats_t stats;
    lt_driver_t *driver;
    lt_run_t run = {0};
    const lt_buyers_t **buyers;
    int status;
    struct sigaction stop = {.sa_handler = on_interrupt};

    input_error = err_out;
    input_error_size = err_out_size;
    switch (lt_options_parse(&options, argc, argv, err, sizeof(err))) {
    case LT_OPTIONS_HELP:
        fputs(lt_options_usage, stdout);
        return 0;
    case LT_OPTIONS_ERROR:
        return bad_input("%s", err);
    case LT_OPTIONS_OK:
        break;
    }
    if ((status = check_outputs(&options)) != 0)
        return status;
    if (raise_file_limit(options.connections) != 0)
        return bad_input("--connections %d needs more open files than the limit allows (ulimit -n)",
                         options.connections);
    if (options.user_prefix == NULL) {
        strcpy(prefix, "lt");
        random_hex(prefix + 2, 8, false);
        options.user_prefix = prefix;
    }
    sku = options.sku;
    if (sku == NULL) {
        strcpy(sku_buffer, "LT-");
        random_hex(sku_buffer + 3, 8, true);
        sku = sku_buffer;
    }
    if (lt_api_open(&api, &options.url, err, sizeof(err)) != LT_API_OK) {
        lt_api_close(&api);
        return bad_input("%s", err);
    }
    if ((status = prepare_sale(&options, &api, sku, &sale)) >= 0) {
        lt_api_close(&api);
        return status;
    }
    if (options.jwt_secret != NULL || options.jwt_private_key_file != NULL) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        lt_jwt_config_t jwt = {
            .secret = options.jwt_secret,
            .private_key_file = options.jwt_private_key_file,
            .issuer = options.jwt_issuer,
            .audience = options.jwt_audience,
            /* valid through the storm (a day when it has no --duration) and the verification */
            .lifetime_seconds =
                ((options.duration_ns > 0 ? options.duration_ns : 24 * 3600 * LT_NS_PER_SECOND) +
                 options.verify_timeout_ns) /
                    LT_NS_PER_SECOND +
                TOKEN_EXTRA_HOURS * 3600,
            .user_prefix = options.user_prefix,
            .buyers = (uint64_t)options.buyers,
            .threads = cores > 0 ? (int)cores : 1,
        };
        if (lt_jwt_mint(&jwt, &tokens, err, sizeof(err)) != 0) {
            lt_api_close(&api);
            return bad_input("%s", err);
        }
    }

    config = (lt_driver_config_t){
        .address_len = api.address_len,
        .authority = options.url.authority,
        .sku = sku,
        .user_prefix = options.user_prefix,
        .buyers = (uint64_t)options.buyers,
        .attempts = options.attempts,
        .connections = options.connections,
        .threads = options.threads,
        .pipeline = options.pipeline,
        .rate = options.rate,
        .status_weight = options.status_weight,
        .purchase_weight = options.purchase_weight,
        .timeout_ns = options.timeout_ns,
        .duration_ns = options.duration_ns,
        .tokens = tokens.count > 0 ? &tokens : NULL,
    };
    memcpy(&config.address, &api.address, api.address_len);
    run = (lt_run_t){
        .options = &options,
        .sku = sku,
        .user_prefix = options.user_prefix,
        .identity = identity_name(&options, &tokens),
        .created = options.create,
        .stock_before = sale.stock,
        .initial_stock = sale.initial_stock,
        .stats = &stats,
    };
    snprintf(run.sale_state, sizeof(run.sale_state), "%s", sale.state);
    clock_format_iso(run.started_at, clock_now_ms());
    lt_summary_header(stdout, &run);

    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (lt_stats_init(&stats, lt_now_ns()) != 0) {
        lt_api_close(&api);
        lt_jwt_tokens_dispose(&tokens);
        return bad_input("out of memory");
    }
    if ((driver = lt_driver_start(&config, &stats, err, sizeof(err))) == NULL) {
        lt_stats_dispose(&stats);
        lt_api_close(&api);
        lt_jwt_tokens_dispose(&tokens);
        return bad_input("%s", err);
    }
    storm(&options, driver, &stats, &api, sku, &run.totals);
    run.interrupted = interrupted > 0;

    buyers = calloc((size_t)options.threads, sizeof(*buyers));
    for (int t = 0; buyers != NULL && t < options.threads; t++)
        buyers[t] = lt_driver_buyers(driver, t);
    {
        uint64_t errors = lt_stats_class_count(&stats, LT_CLASS_ERROR) + stats.connect_failures;
        lt_verify_input_t input = {
            .api = &api,
            .sku = sku,
            .admin_key = options.admin_key,
            .user_prefix = options.user_prefix,
            .stock_before = sale.stock,
            .buyers = buyers,
            .threads = options.threads,
            .requests = lt_stats_requests(&stats) + stats.connect_failures,
            .errors = errors,
            .max_error_rate = options.max_error_rate,
            .verify = options.verify && buyers != NULL,
            .timeout_ns = options.verify_timeout_ns,
            .interrupted = &interrupted,
        };
        lt_verify_run(&input, &run.verification);
    }
    lt_run_compute(&run);
    lt_summary_print(stdout, &run);
    status = run.passed ? 0 : 1;
    if (options.report_path != NULL && lt_report_write_html(&run, options.report_path, err, sizeof(err)) != 0)
        status = bad_input("%s", err);
    if (options.json_path != NULL && lt_report_write_json(&run, options.json_path, err, sizeof(err)) != 0)
        status = bad_input("%s", err);
    if (options.svg_dir != NULL && lt_report_write_svgs(&run, options.svg_dir, err, sizeof(err)) != 0)
        status = bad_input("%s", err);

    free(buyers);
    lt_driver_destroy(driver);
    lt_stats_dispose(&stats);
    lt_jwt_tokens_dispose(&tokens);
    lt_api_close(&api);
    return status;
}
