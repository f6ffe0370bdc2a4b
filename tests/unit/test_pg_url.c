/*
 * Unit tests of pg_url: which URLs pass the check, the one-line error of each refusal, and that no
 * error and no masked URL ever shows the password, whatever libpq's message quotes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "distributed/postgres/pg_url.h"

#define SECRET "s3cret-Pw"

static void assert_accepted(const char *url)
{
    char err[512] = "";
    if (pg_url_check(url, err, sizeof(err)) != 0)
        fail_msg("refused %s: %s", url, err);
}

/* Checks the refusal's one line: the problem named, the masked URL shown, no secret anywhere. */
static void assert_refused(const char *url, const char *problem, const char *masked)
{
    char err[512], expected[512];
    assert_int_equal(pg_url_check(url, err, sizeof(err)), -1);
    assert_null(strchr(err, '\n'));
    assert_null(strstr(err, SECRET));
    assert_null(strstr(err, "s3cret"));
    snprintf(expected, sizeof(expected), "bad PostgreSQL URL \"%s\": %s (expected %s)", masked, problem,
             PG_URL_FORM);
    assert_string_equal(err, expected);
}

static void test_accepts_what_libpq_reads(void **state)
{
    (void)state;
    assert_accepted("postgresql://postgres@127.0.0.1:5432/flashsale");
    assert_accepted("postgres://alice:" SECRET "@db.example:6543/sales?sslmode=require&connect_timeout=5");
    assert_accepted("postgresql:///flashsale?host=/var/run/postgresql");
    assert_accepted("host=127.0.0.1 port=5432 dbname=flashsale password='" SECRET "'");
}

static void test_refuses_empty_and_control_characters(void **state)
{
    (void)state;
    assert_refused("", "it is empty", "");
    assert_refused("postgresql://u:" SECRET "@h/db\nnext line", "it holds a control character",
                   "postgresql://u:***@h/db...");
    assert_refused("host=h password=" SECRET "\r", "it holds a control character", "(key=value pairs)");
}

static void test_refuses_other_schemes(void **state)
{
    (void)state;
    assert_refused("mysql://u:" SECRET "@h/db", "the scheme is not postgresql:// or postgres://",
                   "mysql://u:***@h/db");
    assert_refused("redis://h:6379", "the scheme is not postgresql:// or postgres://", "redis://h:6379");
}

/* libpq quotes the URL or the piece it did not like; each quoted piece is left out. */
static void test_libpq_refusals_without_the_password(void **state)
{
    (void)state;
    assert_refused("postgres://u:" SECRET "%zz@h/db", "invalid percent-encoded token: \"...\"",
                   "postgres://u:***@h/db");
    assert_refused("postgres://u:" SECRET "%00@h/db", "forbidden value %00 in percent-encoded value: \"...\"",
                   "postgres://u:***@h/db");
    assert_refused(
        "postgres://u:" SECRET "@[::1",
        "end of string reached when looking for matching \"]\" in IPv6 host address in URI: \"...\"",
        "postgres://u:***@[::1");
    assert_refused("postgresql://u:" SECRET "@h/db?nosuchoption=1", "invalid URI query parameter: \"...\"",
                   "postgresql://u:***@h/db?...");
    assert_refused("postgresql://h/db?password",
                   "missing key/value separator \"=\" in URI query parameter: \"...\"",
                   "postgresql://h/db?...");
    assert_refused("host=h " SECRET, "missing \"=\" after \"...\" in connection info string",
                   "(key=value pairs)");
    assert_refused("host=h password='" SECRET, "unterminated quoted string in connection info string",
                   "(key=value pairs)");
}

/* A quoted piece that holds a '"' or a line break itself: the quotes cannot be paired. */
static void test_libpq_refusals_quoting_quotes(void **state)
{
    (void)state;
    assert_refused("postgresql://h/db?a%22" SECRET "=1", "invalid URI query parameter: \"...\"",
                   "postgresql://h/db?...");
    assert_refused("host=h \"" SECRET, "missing \"...\" in connection info string", "(key=value pairs)");
    assert_refused("postgresql://h/db?x%0A" SECRET "=1", "libpq cannot parse it", "postgresql://h/db?...");
}

static void test_mask(void **state)
{
    (void)state;
    char out[128];
    pg_url_mask("postgresql://alice:" SECRET "@h:5432/db", out, sizeof(out));
    assert_string_equal(out, "postgresql://alice:***@h:5432/db");
    /* a raw '@' or '/' in the password: all up to the last '@' is hidden */
    pg_url_mask("postgres://alice:p@ss/w" SECRET "@h/db", out, sizeof(out));
    assert_string_equal(out, "postgres://alice:***@h/db");
    pg_url_mask("postgres://" SECRET "@h/db", out, sizeof(out));
    assert_string_equal(out, "postgres://***@h/db");
    pg_url_mask("postgres://h/db?pass%77ord=" SECRET, out, sizeof(out));
    assert_string_equal(out, "postgres://h/db?...");
    pg_url_mask("postgres://h/db", out, sizeof(out));
    assert_string_equal(out, "postgres://h/db");
    pg_url_mask("dbname=db password=" SECRET, out, sizeof(out));
    assert_string_equal(out, "(key=value pairs)");
    /* cut to the buffer, always terminated */
    pg_url_mask("postgresql://alice:" SECRET "@h:5432/db", out, 8);
    assert_string_equal(out, "postgre");
}

/* A small error buffer gets a cut but terminated line. */
static void test_small_error_buffer(void **state)
{
    (void)state;
    char err[16];
    memset(err, 'x', sizeof(err));
    assert_int_equal(pg_url_check("postgres://u:" SECRET "%zz@h/db", err, sizeof(err)), -1);
    assert_string_equal(err, "bad PostgreSQL ");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_what_libpq_reads),
        cmocka_unit_test(test_refuses_empty_and_control_characters),
        cmocka_unit_test(test_refuses_other_schemes),
        cmocka_unit_test(test_libpq_refusals_without_the_password),
        cmocka_unit_test(test_libpq_refusals_quoting_quotes),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_small_error_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
