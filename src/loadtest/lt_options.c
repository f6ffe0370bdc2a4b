#include "loadtest/lt_options.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char lt_options_usage[] =
    "usage: flashsale loadtest --url URL (--sku SKU | --create --stock N) [options]\n"
    "\n"
    "Storms one sale of a flashsale server (or any server speaking its API) with purchases,\n"
    "prints a live line every second, a summary, then verifies the sale through the API.\n"
    "Exit status: 0 every check passed; 1 a check failed or too many errors; 2 bad input.\n"
    "\n"
    "target:\n"
    "  --url URL                  the server: http://HOST[:PORT] (required)\n"
    "  --sku SKU                  the sale to storm; with --create, the sku to create\n"
    "  --create                   create a fresh live sale first (needs --stock and --admin-key)\n"
    "  --stock N                  initial stock of the created sale\n"
    "  --admin-key KEY            the server's admin key: for --create and the orders list;\n"
    "                             without it the checks that need it are SKIPPED\n"
    "\n"
    "load (closed loop unless --rate):\n"
    "  --buyers N                 distinct buyers, each buying once (default 10000); with\n"
    "                             --duration, a large N keeps every request a new buyer\n"
    "  --attempts-per-buyer K     purchase attempts each buyer sends at once (default 1):\n"
    "                             the same buyer hammering; still one order each\n"
    "  --connections C            keep-alive connections (default 100); in the closed loop each\n"
    "                             sends its next request as soon as its answer arrives\n"
    "  --rate R/s                 open loop: R requests per second on a fixed schedule (also R/min);\n"
    "                             latency counts from the scheduled time, so a request that waits\n"
    "                             for a free connection counts its wait (no coordinated omission)\n"
    "  --duration D               stop after D (500ms, 10s, 2m); default: when every buyer's\n"
    "                             attempts are answered, whichever comes first\n"
    "  --mix status=S,purchase=P  interleave sale-status polls (GET /api/v1/sales?sku=) and\n"
    "                             purchases by these integer weights (default purchase=100);\n"
    "                             with purchase=0 give --duration\n"
    "  --threads N                client threads, each with its own event loop (default 1)\n"
    "  --pipeline N               requests in flight per connection (default 1: no pipelining)\n"
    "  --timeout D                a request unanswered for D is an error (default 10s)\n"
    "  --user-prefix P            buyer ids are P-0, P-1, ... (default: lt + 8 random hex digits)\n"
    "\n"
    "identity (default: the X-User-Id header):\n"
    "  --jwt-secret SECRET        send Authorization: Bearer, one HS256 token per buyer (sub = id)\n"
    "  --jwt-private-key FILE     the same, signed with a PEM private key: RS256 (RSA) or ES256 (P-256)\n"
    "  --jwt-issuer ISS           iss claim of the tokens\n"
    "  --jwt-audience AUD         aud claim of the tokens\n"
    "\n"
    "verification and output:\n"
    "  --no-verify                skip the checks after the storm\n"
    "  --verify-timeout D         wait up to D for orders to reach the orders list (default 30s)\n"
    "  --max-error-rate X         fail when errors (no answer, 5xx, unexpected 4xx; 429 is counted\n"
    "                             apart) exceed X of the requests: 0.01 or 1% (default 1%)\n"
    "  --report FILE.html         one self-contained HTML report with SVG charts\n"
    "  --json FILE                the figures as JSON, for CI and for comparing runs\n"
    "  --svg-dir DIR              also write the charts as DIR/throughput.svg, latency.svg, histogram.svg\n"
    "  --help                     this text\n"
    "\n"
    "Ctrl-C stops the storm; the summary and the verification still run (a second Ctrl-C stops\n"
    "waiting for answers and orders).\n";

enum {
    OPT_URL = 256,
    OPT_SKU,
    OPT_CREATE,
    OPT_STOCK,
    OPT_ADMIN_KEY,
    OPT_BUYERS,
    OPT_ATTEMPTS,
    OPT_CONNECTIONS,
    OPT_RATE,
    OPT_DURATION,
    OPT_MIX,
    OPT_THREADS,
    OPT_PIPELINE,
    OPT_TIMEOUT,
    OPT_USER_PREFIX,
    OPT_JWT_SECRET,
    OPT_JWT_PRIVATE_KEY,
    OPT_JWT_ISSUER,
    OPT_JWT_AUDIENCE,
    OPT_NO_VERIFY,
    OPT_VERIFY_TIMEOUT,
    OPT_MAX_ERROR_RATE,
    OPT_REPORT,
    OPT_JSON,
    OPT_SVG_DIR,
    OPT_HELP
};

static const struct option long_options[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"sku", required_argument, NULL, OPT_SKU},
    {"create", no_argument, NULL, OPT_CREATE},
    {"stock", required_argument, NULL, OPT_STOCK},
    {"admin-key", required_argument, NULL, OPT_ADMIN_KEY},
    {"buyers", required_argument, NULL, OPT_BUYERS},
    {"attempts-per-buyer", required_argument, NULL, OPT_ATTEMPTS},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"mix", required_argument, NULL, OPT_MIX},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"user-prefix", required_argument, NULL, OPT_USER_PREFIX},
    {"jwt-secret", required_argument, NULL, OPT_JWT_SECRET},
    {"jwt-private-key", required_argument, NULL, OPT_JWT_PRIVATE_KEY},
    {"jwt-issuer", required_argument, NULL, OPT_JWT_ISSUER},
    {"jwt-audience", required_argument, NULL, OPT_JWT_AUDIENCE},
    {"no-verify", no_argument, NULL, OPT_NO_VERIFY},
    {"verify-timeout", required_argument, NULL, OPT_VERIFY_TIMEOUT},
    {"max-error-rate", required_argument, NULL, OPT_MAX_ERROR_RATE},
    {"report", required_argument, NULL, OPT_REPORT},
    {"json", required_argument, NULL, OPT_JSON},
    {"svg-dir", required_argument, NULL, OPT_SVG_DIR},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static int fail(char *err, size_t err_size, const char *format, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t err_size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(err, err_size, format, args);
    va_end(args);
    return -1;
}

/* A whole decimal integer in [min, max]. */
static int parse_integer(const char *text, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long value;

    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
        return -1;
    *out = value;
    return 0;
}

/* A plain decimal number ("12", "0.5", "1e3"): strtod without inf, nan or hex forms. */
static int parse_number(const char *text, char **end, double *out)
{
    if (!((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
        return -1;
    errno = 0;
    *out = strtod(text, end);
    if (errno != 0 || *end == text || !isfinite(*out) ||
        strspn(text, "0123456789.eE+-") < (size_t)(*end - text)) /* no hexadecimal */
        return -1;
    return 0;
}

int lt_parse_duration(const char *text, int64_t *ns)
{
    static const struct {
        const char *suffix;
        double ns;
    } units[] = {{"", 1e9},  {"ns", 1},   {"us", 1e3},   {"ms", 1e6},
                 {"s", 1e9}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9}};
    char *end;
    double value, total;

    if (parse_number(text, &end, &value) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        total = value * units[i].ns;
        /* at least 1 ms and at most a week: shorter or longer is a typo */
        if (total < 1e6 || total > 7 * 24 * 3600e9)
            return -1;
        *ns = (int64_t)total;
        return 0;
    }
    return -1;
}

int lt_parse_rate(const char *text, double *per_second)
{
    static const struct {
        const char *suffix;
        double seconds;
    } units[] = {{"", 1}, {"/s", 1}, {"/sec", 1}, {"/m", 60}, {"/min", 60}, {"/h", 3600}};
    char *end;
    double value, rate;

    if (parse_number(text, &end, &value) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) != 0)
            continue;
        rate = value / units[i].seconds;
        /* below one request a minute or above 10^8/s is certainly a mistake */
        if (!(rate >= 1.0 / 60 && rate <= 1e8))
            return -1;
        *per_second = rate;
        return 0;
    }
    return -1;
}

int lt_parse_mix(const char *text, int *status_weight, int *purchase_weight, char *err, size_t err_size)
{
    int weights[2] = {0, 0};
    bool seen[2] = {false, false};
    static const char *const kinds[2] = {"status", "purchase"};
    const char *cursor = text;

    for (;;) {
        const char *equals = strchr(cursor, '='), *comma;
        size_t name_len;
        int kind = -1;
        char digits[16];
        size_t digits_len;
        int64_t weight;

        if (equals == NULL)
            return fail(err, err_size,
                        "--mix: expected KIND=WEIGHT pairs such as status=80,purchase=20, got \"%s\"", text);
        name_len = (size_t)(equals - cursor);
        for (int k = 0; k < 2; k++)
            if (strlen(kinds[k]) == name_len && strncmp(cursor, kinds[k], name_len) == 0)
                kind = k;
        if (kind < 0)
            return fail(err, err_size, "--mix: unknown kind \"%.*s\" (known: status, purchase)",
                        (int)name_len, cursor);
        if (seen[kind])
            return fail(err, err_size, "--mix: %s given twice", kinds[kind]);
        seen[kind] = true;
        comma = strchr(equals + 1, ',');
        digits_len = comma != NULL ? (size_t)(comma - equals - 1) : strlen(equals + 1);
        if (digits_len == 0 || digits_len >= sizeof(digits))
            return fail(err, err_size, "--mix: %s needs a weight from 0 to 1000000", kinds[kind]);
        memcpy(digits, equals + 1, digits_len);
        digits[digits_len] = '\0';
        if (parse_integer(digits, 0, 1000000, &weight) != 0)
            return fail(err, err_size, "--mix: %s=%s: a weight is an integer from 0 to 1000000", kinds[kind],
                        digits);
        weights[kind] = (int)weight;
        if (comma == NULL)
            break;
        cursor = comma + 1;
    }
    if (weights[0] + weights[1] == 0)
        return fail(err, err_size, "--mix: the weights add up to 0");
    *status_weight = weights[0];
    *purchase_weight = weights[1];
    return 0;
}

int lt_parse_url(const char *text, lt_url_t *url, char *err, size_t err_size)
{
    const char *authority, *end, *host, *host_end, *port = NULL;
    size_t authority_len, host_len;
    int64_t port_number = 80;

    if (strncmp(text, "http://", 7) != 0)
        return fail(err, err_size, "--url %s: must start with http:// (https is not supported)", text);
    authority = text + 7;
    end = authority + strcspn(authority, "/?#");
    if (*end != '\0' && strcmp(end, "/") != 0)
        return fail(err, err_size, "--url %s: give only http://HOST[:PORT], without a path", text);
    authority_len = (size_t)(end - authority);
    if (authority_len == 0 || authority_len >= sizeof(url->authority) ||
        memchr(authority, '@', authority_len))
        return fail(err, err_size, "--url %s: expected http://HOST[:PORT]", text);
    if (authority[0] == '[') {
        host = authority + 1;
        host_end = memchr(authority, ']', authority_len);
        if (host_end == NULL)
            return fail(err, err_size, "--url %s: unclosed [ in the address", text);
        if (host_end + 1 < end) {
            if (host_end[1] != ':')
                return fail(err, err_size, "--url %s: expected http://[ADDRESS]:PORT", text);
            port = host_end + 2;
        }
    } else {
        host = authority;
        host_end = memchr(authority, ':', authority_len);
        if (host_end != NULL)
            port = host_end + 1;
        else
            host_end = end;
    }
    host_len = (size_t)(host_end - host);
    if (host_len == 0 || host_len >= sizeof(url->host))
        return fail(err, err_size, "--url %s: no host", text);
    if (port != NULL) {
        char digits[8];
        size_t digits_len = (size_t)(end - port);
        if (digits_len == 0 || digits_len >= sizeof(digits))
            return fail(err, err_size, "--url %s: bad port", text);
        memcpy(digits, port, digits_len);
        digits[digits_len] = '\0';
        if (parse_integer(digits, 1, 65535, &port_number) != 0)
            return fail(err, err_size, "--url %s: the port must be 1-65535", text);
    }
    memcpy(url->host, host, host_len);
    url->host[host_len] = '\0';
    snprintf(url->port, sizeof(url->port), "%d", (int)port_number);
    memcpy(url->authority, authority, authority_len);
    url->authority[authority_len] = '\0';
    return 0;
}

/* An sku as the API takes it: 1-64 of A-Z, a-z, 0-9 and -. */
static bool valid_sku(const char *sku)
{
    size_t len = strlen(sku);
    if (len == 0 || len > 64)
        return false;
    return strspn(sku, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

/* A buyer id prefix: printable ASCII without spaces, short enough to leave room for the number. */
static bool valid_prefix(const char *prefix)
{
    size_t len = strlen(prefix);
    if (len == 0 || len > 200)
        return false;
    for (size_t i = 0; i < len; i++)
        if (prefix[i] <= ' ' || prefix[i] > '~' || prefix[i] == '"' || prefix[i] == '\\')
            return false;
    return true;
}

static int parse_error_rate(const char *text, double *rate)
{
    char *end;
    double value;

    if (parse_number(text, &end, &value) != 0)
        return -1;
    if (strcmp(end, "%") == 0)
        value /= 100;
    else if (*end != '\0')
        return -1;
    if (value < 0 || value > 1)
        return -1;
    *rate = value;
    return 0;
}

/* Applies one option; 0 or -1 with err set. */
static int apply(lt_options_t *options, int option, const char *name, const char *value, char *err,
                 size_t err_size)
{
    int64_t number;

    switch (option) {
    case OPT_URL:
        options->url_text = value;
        return lt_parse_url(value, &options->url, err, err_size);
    case OPT_SKU:
        if (!valid_sku(value))
            return fail(err, err_size, "--sku %s: 1-64 characters of A-Z, a-z, 0-9 and -", value);
        options->sku = value;
        return 0;
    case OPT_CREATE:
        options->create = true;
        return 0;
    case OPT_STOCK:
        if (parse_integer(value, 1, 1000000000, &options->stock) != 0)
            return fail(err, err_size, "--stock %s: an integer from 1 to 1000000000", value);
        return 0;
    case OPT_ADMIN_KEY:
        options->admin_key = value;
        return 0;
    case OPT_BUYERS:
        if (parse_integer(value, 1, 1000000000, &options->buyers) != 0)
            return fail(err, err_size, "--buyers %s: an integer from 1 to 1000000000", value);
        return 0;
    case OPT_ATTEMPTS:
        if (parse_integer(value, 1, 1000, &number) != 0)
            return fail(err, err_size, "--attempts-per-buyer %s: an integer from 1 to 1000", value);
        options->attempts = (int)number;
        return 0;
    case OPT_CONNECTIONS:
        if (parse_integer(value, 1, 100000, &number) != 0)
            return fail(err, err_size, "--connections %s: an integer from 1 to 100000", value);
        options->connections = (int)number;
        return 0;
    case OPT_RATE:
        if (lt_parse_rate(value, &options->rate) != 0)
            return fail(err, err_size, "--rate %s: expected R/s or R/min, e.g. 5000/s (1/min to 100000000/s)",
                        value);
        return 0;
    case OPT_DURATION:
    case OPT_TIMEOUT:
    case OPT_VERIFY_TIMEOUT:
        if (lt_parse_duration(value, &number) != 0)
            return fail(err, err_size,
                        "--%s %s: expected a duration such as 500ms, 10s or 2m (1ms to 7 days)", name, value);
        *(option == OPT_DURATION  ? &options->duration_ns
          : option == OPT_TIMEOUT ? &options->timeout_ns
                                  : &options->verify_timeout_ns) = number;
        return 0;
    case OPT_MIX:
        return lt_parse_mix(value, &options->status_weight, &options->purchase_weight, err, err_size);
    case OPT_THREADS:
        if (parse_integer(value, 1, 256, &number) != 0)
            return fail(err, err_size, "--threads %s: an integer from 1 to 256", value);
        options->threads = (int)number;
        return 0;
    case OPT_PIPELINE:
        if (parse_integer(value, 1, 64, &number) != 0)
            return fail(err, err_size, "--pipeline %s: an integer from 1 to 64", value);
        options->pipeline = (int)number;
        return 0;
    case OPT_USER_PREFIX:
        if (!valid_prefix(value))
            return fail(err, err_size,
                        "--user-prefix: 1-200 printable characters without spaces, quotes or \\");
        options->user_prefix = value;
        return 0;
    case OPT_JWT_SECRET:
        if (value[0] == '\0')
            return fail(err, err_size, "--jwt-secret: empty");
        options->jwt_secret = value;
        return 0;
    case OPT_JWT_PRIVATE_KEY:
        options->jwt_private_key_file = value;
        return 0;
    case OPT_JWT_ISSUER:
        options->jwt_issuer = value;
        return 0;
    case OPT_JWT_AUDIENCE:
        options->jwt_audience = value;
        return 0;
    case OPT_NO_VERIFY:
        options->verify = false;
        return 0;
    case OPT_MAX_ERROR_RATE:
        if (parse_error_rate(value, &options->max_error_rate) != 0)
            return fail(err, err_size,
                        "--max-error-rate %s: a share from 0 to 1, or a percentage such as 1%%", value);
        return 0;
    case OPT_REPORT:
        options->report_path = value;
        return 0;
    case OPT_JSON:
        options->json_path = value;
        return 0;
    case OPT_SVG_DIR:
        options->svg_dir = value;
        return 0;
    default:
        return fail(err, err_size, "unhandled option %s", name);
    }
}

/* The rules between options, once all are read. */
static int check_combination(const lt_options_t *options, char *err, size_t err_size)
{
    if (options->url_text == NULL)
        return fail(err, err_size, "--url is required (e.g. --url http://127.0.0.1:8080)");
    if (options->create && options->stock == 0)
        return fail(err, err_size, "--create needs --stock N");
    if (options->create && options->admin_key == NULL)
        return fail(err, err_size, "--create needs --admin-key (sales are created through the admin API)");
    if (!options->create && options->stock != 0)
        return fail(err, err_size, "--stock is only for --create (an existing sale has its own stock)");
    if (!options->create && options->sku == NULL)
        return fail(err, err_size, "give --sku SKU (an existing sale) or --create --stock N");
    if (options->jwt_secret != NULL && options->jwt_private_key_file != NULL)
        return fail(err, err_size, "--jwt-secret and --jwt-private-key exclude each other");
    if ((options->jwt_issuer != NULL || options->jwt_audience != NULL) && options->jwt_secret == NULL &&
        options->jwt_private_key_file == NULL)
        return fail(err, err_size, "--jwt-issuer and --jwt-audience need --jwt-secret or --jwt-private-key");
    if (options->purchase_weight == 0 && options->duration_ns == 0)
        return fail(err, err_size, "--mix without purchases never ends by itself: give --duration");
    if (options->threads > options->connections)
        return fail(err, err_size, "--threads %d needs at least as many --connections (%d)", options->threads,
                    options->connections);
    return 0;
}

lt_options_result_t lt_options_parse(lt_options_t *options, int argc, char **argv, char *err, size_t err_size)
{
    int option;

    *options = (lt_options_t){
        .buyers = 10000,
        .attempts = 1,
        .connections = 100,
        .purchase_weight = 100,
        .threads = 1,
        .pipeline = 1,
        .timeout_ns = 10 * LT_NS_PER_SECOND,
        .verify = true,
        .verify_timeout_ns = 30 * LT_NS_PER_SECOND,
        .max_error_rate = 0.01,
    };
    optind = 1;
    opterr = 0;
    while ((option = getopt_long(argc, argv, ":", long_options, NULL)) != -1) {
        const char *name = argv[optind - 1];
        if (option == OPT_HELP)
            return LT_OPTIONS_HELP;
        if (option == '?') {
            snprintf(err, err_size, "unknown option %s (see flashsale loadtest --help)", name);
            return LT_OPTIONS_ERROR;
        }
        if (option == ':') {
            snprintf(err, err_size, "%s needs a value", name);
            return LT_OPTIONS_ERROR;
        }
        /* the long name without dashes or value, for messages */
        for (const struct option *known = long_options; known->name != NULL; known++)
            if (known->val == option)
                name = known->name;
        if (apply(options, option, name, optarg, err, err_size) != 0)
            return LT_OPTIONS_ERROR;
    }
    if (optind < argc) {
        snprintf(err, err_size, "unexpected argument %s (see flashsale loadtest --help)", argv[optind]);
        return LT_OPTIONS_ERROR;
    }
    if (check_combination(options, err, err_size) != 0)
        return LT_OPTIONS_ERROR;
    return LT_OPTIONS_OK;
}
