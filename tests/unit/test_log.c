/*
 * Unit tests of log: the line format, the level filter, one line per call whatever the message
 * holds, and whole lines from concurrent threads. stderr is pointed at a scratch file for each test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

#define THREADS          4
#define LINES_PER_THREAD 2000

typedef struct {
    int saved_stderr;
    FILE *capture;
} fixture_t;

static int setup(void **state)
{
    fixture_t *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    fixture->capture = tmpfile();
    assert_non_null(fixture->capture);
    fixture->saved_stderr = dup(STDERR_FILENO);
    assert_true(dup2(fileno(fixture->capture), STDERR_FILENO) >= 0);
    log_set_level(LOG_INFO);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fixture = *state;
    dup2(fixture->saved_stderr, STDERR_FILENO);
    close(fixture->saved_stderr);
    fclose(fixture->capture);
    free(fixture);
    log_set_level(LOG_INFO);
    return 0;
}

/* Everything logged so far, NUL-terminated; the caller frees it. */
static char *captured(fixture_t *fixture)
{
    long size = lseek(fileno(fixture->capture), 0, SEEK_END);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(fixture->capture), text, (size_t)size, 0), size);
    text[size] = '\0';
    return text;
}

static void assert_matches(const char *text, const char *pattern)
{
    regex_t regex;
    assert_int_equal(regcomp(&regex, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&regex, text, 0, NULL, 0);
    regfree(&regex);
    if (rc != 0)
        fail_msg("\"%s\" does not match %s", text, pattern);
}

static void test_parse_level(void **state)
{
    (void)state;
    log_level_t level = LOG_INFO;
    assert_int_equal(log_parse_level("error", &level), 0);
    assert_int_equal(level, LOG_ERROR);
    assert_int_equal(log_parse_level("warn", &level), 0);
    assert_int_equal(level, LOG_WARN);
    assert_int_equal(log_parse_level("info", &level), 0);
    assert_int_equal(level, LOG_INFO);
    assert_int_equal(log_parse_level("debug", &level), 0);
    assert_int_equal(level, LOG_DEBUG);
    assert_int_equal(log_parse_level("INFO", &level), -1);
    assert_int_equal(log_parse_level("warning", &level), -1);
    assert_int_equal(log_parse_level("", &level), -1);
    assert_int_equal(level, LOG_DEBUG);
}

static void test_line_format(void **state)
{
    fixture_t *fixture = *state;
    log_info("http", "serving http://%s:%d with %d threads", "127.0.0.1", 8080, 2);
    log_error("ledger", "cannot commit");
    char *text = captured(fixture);
    assert_matches(text, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z info  http: "
                         "serving http://127\\.0\\.0\\.1:8080 with 2 threads\n"
                         "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z error ledger: cannot commit\n$");
    free(text);
}

static void test_level_filters(void **state)
{
    fixture_t *fixture = *state;
    log_set_level(LOG_WARN);
    log_debug("test", "debug");
    log_info("test", "info");
    log_warn("test", "warn");
    log_error("test", "error");
    log_set_level(LOG_DEBUG);
    log_debug("test", "debug again");
    char *text = captured(fixture);
    assert_matches(text,
                   "^[^\n]* warn  test: warn\n[^\n]* error test: error\n[^\n]* debug test: debug again\n$");
    free(text);
}

static void test_one_call_is_one_line(void **state)
{
    fixture_t *fixture = *state;
    char long_message[3 * LOG_LINE_MAX];
    memset(long_message, 'x', sizeof(long_message) - 1);
    long_message[sizeof(long_message) - 1] = '\0';
    log_warn("postgres", "server closed the connection\nunexpectedly\r\n");
    log_info("test", "%s", long_message);
    char *text = captured(fixture);
    char *second = strchr(text, '\n') + 1;
    assert_matches(text, "^[^\n]* warn  postgres: server closed the connection unexpectedly  \n");
    /* cut to LOG_LINE_MAX bytes, newline included in none of them */
    assert_int_equal(strlen(second), LOG_LINE_MAX + 1);
    assert_int_equal(second[LOG_LINE_MAX], '\n');
    assert_matches(second, "^[^\n]* info  test: x+\n$");
    free(text);
}

static void *log_lines(void *arg)
{
    for (int i = 0; i < LINES_PER_THREAD; i++)
        log_info("thread", "%ld line %d of a message long enough to take several copies to write", (long)arg,
                 i);
    return NULL;
}

static void test_threads_never_interleave(void **state)
{
    fixture_t *fixture = *state;
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, log_lines, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    char *text = captured(fixture);
    regex_t line;
    assert_int_equal(regcomp(&line,
                             "^[0-9-]{10}T[0-9:.]{12}Z info  thread: [0-9] line [0-9]+ of a message long "
                             "enough to take several copies to write$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    int count = 0;
    for (char *save = NULL, *at = strtok_r(text, "\n", &save); at != NULL; at = strtok_r(NULL, "\n", &save)) {
        if (regexec(&line, at, 0, NULL, 0) != 0)
            fail_msg("a broken line: \"%s\"", at);
        count++;
    }
    regfree(&line);
    assert_int_equal(count, THREADS * LINES_PER_THREAD);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_level),
        cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_call_is_one_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_never_interleave, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
