/*
 * Unit tests of lt_options: the value syntaxes (durations, rates, the mix, URLs) accept what the
 * help text promises and refuse the rest, and the command line applies defaults and refuses
 * inconsistent combinations with a message naming the flag.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "loadtest/lt_options.h"

static void assert_duration(const char *text, int64_t expected_ns)
{
    int64_t ns = -1;
    if (lt_parse_duration(text, &ns) != 0)
        fail_msg("duration \"%s\" refused", text);
    assert_int_equal(ns, expected_ns);
}

static void test_durations(void **state)
{
    int64_t ns;
    (void)state;
    assert_duration("10s", 10 * LT_NS_PER_SECOND);
    assert_duration("250ms", 250000000);
    assert_duration("1.5s", 1500000000);
    assert_duration("2m", 120 * LT_NS_PER_SECOND);
    assert_duration("2min", 120 * LT_NS_PER_SECOND);
    assert_duration("1h", 3600 * LT_NS_PER_SECOND);
    assert_duration("30", 30 * LT_NS_PER_SECOND);
    assert_duration("5000us", 5000000);
    const char *bad[] = {"",    "s",   "-1s",    "10x", "10 s",  "0s",  "0.5us",
                         "inf", "nan", "1e400s", "8d",  "0x10s", "10s5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (lt_parse_duration(bad[i], &ns) == 0)
            fail_msg("duration \"%s\" accepted", bad[i]);
}

static void test_rates(void **state)
{
    double rate;
    (void)state;
    assert_int_equal(lt_parse_rate("5000/s", &rate), 0);
    assert_true(rate == 5000);
    assert_int_equal(lt_parse_rate("5000", &rate), 0);
    assert_true(rate == 5000);
    assert_int_equal(lt_parse_rate("600/min", &rate), 0);
    assert_true(rate == 10);
    assert_int_equal(lt_parse_rate("7200/h", &rate), 0);
    assert_true(rate == 2);
    assert_int_equal(lt_parse_rate("2.5/s", &rate), 0);
    assert_true(rate == 2.5);
    const char *bad[] = {"", "/s", "abc", "-5/s", "0/s", "5/d", "5 /s", "1e9/s", "0.5/min", "inf/s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (lt_parse_rate(bad[i], &rate) == 0)
            fail_msg("rate \"%s\" accepted", bad[i]);
}

static void test_mix(void **state)
{
    int status = -1, purchase = -1;
    char err[256];
    (void)state;
    assert_int_equal(lt_parse_mix("status=80,purchase=20", &status, &purchase, err, sizeof(err)), 0);
    assert_int_equal(status, 80);
    assert_int_equal(purchase, 20);
    assert_int_equal(lt_parse_mix("purchase=1,status=3", &status, &purchase, err, sizeof(err)), 0);
    assert_int_equal(status, 3);
    assert_int_equal(purchase, 1);
    assert_int_equal(lt_parse_mix("status=100", &status, &purchase, err, sizeof(err)), 0);
    assert_int_equal(status, 100);
    assert_int_equal(purchase, 0);

    assert_int_equal(lt_parse_mix("status=80,buy=20", &status, &purchase, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "buy"));
    assert_int_equal(lt_parse_mix("status=1,status=2", &status, &purchase, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "twice"));
    assert_int_equal(lt_parse_mix("status=0,purchase=0", &status, &purchase, err, sizeof(err)), -1);
    const char *bad[] = {"",         "status",     "status=",        "status=-1",
                         "status=x", "status=80,", "status=2000000", "=5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (lt_parse_mix(bad[i], &status, &purchase, err, sizeof(err)) == 0)
            fail_msg("mix \"%s\" accepted", bad[i]);
}

static void test_urls(void **state)
{
    lt_url_t url;
    char err[256];
    (void)state;
    assert_int_equal(lt_parse_url("http://127.0.0.1:8080", &url, err, sizeof(err)), 0);
    assert_string_equal(url.host, "127.0.0.1");
    assert_string_equal(url.port, "8080");
    assert_string_equal(url.authority, "127.0.0.1:8080");
    assert_int_equal(lt_parse_url("http://localhost/", &url, err, sizeof(err)), 0);
    assert_string_equal(url.host, "localhost");
    assert_string_equal(url.port, "80");
    assert_int_equal(lt_parse_url("http://[::1]:9000", &url, err, sizeof(err)), 0);
    assert_string_equal(url.host, "::1");
    assert_string_equal(url.port, "9000");
    assert_string_equal(url.authority, "[::1]:9000");
    const char *bad[] = {"https://x",   "127.0.0.1:8080", "http://",       "http://:80",
                         "http://x:0",  "http://x:70000", "http://x:port", "http://x/api",
                         "http://[::1", "http://u@x",     "http://x?y=1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (lt_parse_url(bad[i], &url, err, sizeof(err)) == 0)
            fail_msg("url \"%s\" accepted", bad[i]);
}

/* Parses a command line given as a NULL-terminated list after "loadtest". */
static lt_options_result_t parse(lt_options_t *options, char *err, const char *first, ...)
{
    char *argv[64] = {"loadtest"};
    int argc = 1;
    va_list args;
    va_start(args, first);
    for (const char *arg = first; arg != NULL && argc < 63; arg = va_arg(args, const char *))
        argv[argc++] = (char *)arg;
    va_end(args);
    return lt_options_parse(options, argc, argv, err, 256);
}

static void test_defaults(void **state)
{
    lt_options_t options;
    char err[256];
    (void)state;
    assert_int_equal(parse(&options, err, "--url", "http://127.0.0.1:8080", "--sku", "DEMO-001", NULL),
                     LT_OPTIONS_OK);
    assert_int_equal(options.buyers, 10000);
    assert_int_equal(options.attempts, 1);
    assert_int_equal(options.connections, 100);
    assert_true(options.rate == 0);
    assert_int_equal(options.duration_ns, 0);
    assert_int_equal(options.threads, 1);
    assert_int_equal(options.pipeline, 1);
    assert_int_equal(options.status_weight, 0);
    assert_int_equal(options.purchase_weight, 100);
    assert_true(options.verify);
    assert_int_equal(options.verify_timeout_ns, 30 * LT_NS_PER_SECOND);
    assert_true(fabs(options.max_error_rate - 0.01) < 1e-12);
    assert_null(options.admin_key);
}

static void test_full_command_line(void **state)
{
    lt_options_t options;
    char err[256];
    (void)state;
    assert_int_equal(parse(&options, err, "--url", "http://10.0.0.1:81", "--create", "--stock", "100",
                           "--admin-key", "k", "--buyers", "5000", "--attempts-per-buyer", "3",
                           "--connections", "64", "--rate", "2000/s", "--duration", "5s", "--mix",
                           "status=80,purchase=20", "--threads", "2", "--pipeline", "4", "--timeout", "2s",
                           "--verify-timeout", "1m", "--max-error-rate", "5%", "--json", "out.json",
                           "--report", "r.html", "--svg-dir", "svg", NULL),
                     LT_OPTIONS_OK);
    assert_true(options.create);
    assert_int_equal(options.stock, 100);
    assert_int_equal(options.buyers, 5000);
    assert_int_equal(options.attempts, 3);
    assert_int_equal(options.connections, 64);
    assert_true(options.rate == 2000);
    assert_int_equal(options.duration_ns, 5 * LT_NS_PER_SECOND);
    assert_int_equal(options.status_weight, 80);
    assert_int_equal(options.purchase_weight, 20);
    assert_int_equal(options.threads, 2);
    assert_int_equal(options.pipeline, 4);
    assert_int_equal(options.timeout_ns, 2 * LT_NS_PER_SECOND);
    assert_int_equal(options.verify_timeout_ns, 60 * LT_NS_PER_SECOND);
    assert_true(fabs(options.max_error_rate - 0.05) < 1e-12);
    assert_string_equal(options.json_path, "out.json");
    assert_string_equal(options.svg_dir, "svg");
}

/* Each bad command line fails with a message containing the expected text. */
static void test_refusals(void **state)
{
    static const struct {
        const char *args[8];
        const char *message;
    } cases[] = {
        {{"--sku", "A"}, "--url is required"},
        {{"--url", "http://x"}, "--sku"},
        {{"--url", "http://x", "--create", "--stock", "5"}, "--admin-key"},
        {{"--url", "http://x", "--create", "--admin-key", "k"}, "--stock"},
        {{"--url", "http://x", "--sku", "A", "--stock", "5"}, "--stock"},
        {{"--url", "http://x", "--sku", "bad sku!"}, "--sku"},
        {{"--url", "http://x", "--sku", "A", "--buyers", "0"}, "--buyers"},
        {{"--url", "http://x", "--sku", "A", "--connections", "many"}, "--connections"},
        {{"--url", "http://x", "--sku", "A", "--threads", "4", "--connections", "2"}, "--threads"},
        {{"--url", "http://x", "--sku", "A", "--mix", "status=1,purchase=0"}, "--duration"},
        {{"--url", "http://x", "--sku", "A", "--max-error-rate", "2"}, "--max-error-rate"},
        {{"--url", "http://x", "--sku", "A", "--timeout", "forever"}, "--timeout"},
        {{"--url", "http://x", "--sku", "A", "--jwt-issuer", "me"}, "--jwt-secret"},
        {{"--url", "http://x", "--sku", "A", "--jwt-secret", "s", "--jwt-private-key", "f"}, "exclude"},
        {{"--url", "http://x", "--sku", "A", "--nope"}, "--nope"},
        {{"--url", "http://x", "--sku", "A", "extra"}, "extra"},
        {{"--url", "http://x", "--sku"}, "--sku needs a value"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[10] = {"loadtest"};
        int argc = 1;
        lt_options_t options;
        char err[256] = "";
        for (int a = 0; a < 8 && cases[i].args[a] != NULL; a++)
            argv[argc++] = (char *)cases[i].args[a];
        if (lt_options_parse(&options, argc, argv, err, sizeof(err)) != LT_OPTIONS_ERROR)
            fail_msg("case %zu accepted", i);
        if (strstr(err, cases[i].message) == NULL)
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].message);
    }
}

static void test_help(void **state)
{
    lt_options_t options;
    char err[256];
    (void)state;
    assert_int_equal(parse(&options, err, "--help", NULL), LT_OPTIONS_HELP);
    /* every flag is described */
    const char *flags[] = {"--url",
                           "--sku",
                           "--create",
                           "--stock",
                           "--admin-key",
                           "--buyers",
                           "--attempts-per-buyer",
                           "--connections",
                           "--rate",
                           "--duration",
                           "--mix",
                           "--threads",
                           "--pipeline",
                           "--timeout",
                           "--user-prefix",
                           "--jwt-secret",
                           "--jwt-private-key",
                           "--jwt-issuer",
                           "--jwt-audience",
                           "--no-verify",
                           "--verify-timeout",
                           "--max-error-rate",
                           "--report",
                           "--json",
                           "--svg-dir",
                           "--help"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strstr(lt_options_usage, flags[i]) == NULL)
            fail_msg("usage lacks %s", flags[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations), cmocka_unit_test(test_rates),
        cmocka_unit_test(test_mix),       cmocka_unit_test(test_urls),
        cmocka_unit_test(test_defaults),  cmocka_unit_test(test_full_command_line),
        cmocka_unit_test(test_refusals),  cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
