/*
 * The embedded engine through core/engine.h, on a real data directory: its /metrics text is whole
 * Prometheus text that follows the ledger's commits (it is built in a growable buffer, so no count
 * of buckets or digits can cut it); accounts are created and found on the accounts thread and
 * answered on the loop, conflicts name their field, and a detach waits for what is in flight.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <h2o.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/engine.h"
#include "embedded/engine_embedded.h"
#include "scratch_dir.h"

#define WAIT_LIMIT_MS 10000

typedef struct {
    bool done;
    engine_status_t status;
    sale_outcome_t outcome;
    char *text; /* metrics, owned */
    account_t account;
    const char *invalid_field; /* static in the engine */
} answer_t;

static void on_answer(void *ctx, const engine_result_t *result)
{
    answer_t *answer = ctx;
    answer->status = result->status;
    answer->outcome = result->outcome;
    if (result->text != NULL) {
        answer->text = malloc(result->text_len + 1);
        assert_non_null(answer->text);
        memcpy(answer->text, result->text, result->text_len);
        answer->text[result->text_len] = '\0';
    }
    if (result->account != NULL)
        answer->account = *result->account;
    answer->invalid_field = result->invalid_field;
    answer->done = true;
}

static void wait_for(h2o_loop_t *loop, const answer_t *answer)
{
    int64_t deadline = clock_monotonic_ms() + WAIT_LIMIT_MS;
    while (!answer->done) {
        assert_true(clock_monotonic_ms() < deadline);
        h2o_evloop_run(loop, 10);
    }
}

/* The value of the sample `name` (a whole line's first field), or -1 when there is none. */
static double sample(const char *text, const char *name)
{
    size_t len = strlen(name);
    for (const char *line = text; *line != '\0'; line = strchr(line, '\n') + 1) {
        if (strncmp(line, name, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
    }
    return -1;
}

static void test_metrics_text_is_whole_and_counts_commits(void **state)
{
    const scratch_dir_t *scratch = *state;
    char err[256] = "";
    engine_t *engine = engine_embedded_open(scratch->dir, err, sizeof(err));
    if (engine == NULL)
        fail_msg("open: %s", err);
    h2o_loop_t *loop = h2o_evloop_create();
    engine_loop_t *handle = engine_attach(engine, loop);
    assert_non_null(handle);

    int64_t now = clock_now_ms();
    sale_fields_t fields = {.has_sku = true,
                            .has_product_name = true,
                            .has_initial_stock = true,
                            .has_start = true,
                            .has_end = true,
                            .sku = "METRICS",
                            .product_name = "counted",
                            .initial_stock = 10,
                            .start_ms = now - 1000,
                            .end_ms = now + 3600000};
    answer_t created = {0};
    engine_create_sale(handle, &fields, on_answer, &created);
    wait_for(loop, &created);
    assert_int_equal(created.status, ENGINE_OK);
    for (int i = 0; i < 3; i++) {
        char user[16];
        snprintf(user, sizeof(user), "buyer-%d", i);
        answer_t bought = {0};
        engine_purchase(handle, "METRICS", user, on_answer, &bought);
        wait_for(loop, &bought);
        assert_int_equal(bought.status, ENGINE_OK);
        assert_int_equal(bought.outcome, SALE_OUTCOME_SUCCESS);
    }

    answer_t metrics = {0};
    engine_metrics(handle, on_answer, &metrics);
    wait_for(loop, &metrics);
    assert_int_equal(metrics.status, ENGINE_OK);
    assert_non_null(metrics.text);
    regex_t line;
    assert_int_equal(
        regcomp(&line,
                "^(# TYPE [a-z_]+ (counter|gauge|histogram)|[a-z_]+(\\{le=\"[0-9.+Inf]+\"\\})? [0-9.]+)$",
                REG_EXTENDED | REG_NOSUB),
        0);
    size_t len = strlen(metrics.text);
    assert_true(len > 0 && metrics.text[len - 1] == '\n');
    char *copy = strdup(metrics.text);
    for (char *save = NULL, *at = strtok_r(copy, "\n", &save); at != NULL; at = strtok_r(NULL, "\n", &save))
        if (regexec(&line, at, 0, NULL, 0) != 0)
            fail_msg("not a Prometheus line: \"%s\"", at);
    free(copy);
    regfree(&line);
    /* Every record (the sale and three orders) committed, and the last series there. */
    assert_true(sample(metrics.text, "flashsale_ledger_batch_size_sum") >= 4);
    assert_true(sample(metrics.text, "flashsale_ledger_batch_size_count") >= 1);
    assert_true(sample(metrics.text, "flashsale_ledger_batch_size_bucket{le=\"+Inf\"}") ==
                sample(metrics.text, "flashsale_ledger_batch_size_count"));
    assert_true(sample(metrics.text, "flashsale_ledger_commit_seconds_count") >= 1);
    assert_true(sample(metrics.text, "flashsale_ledger_healthy") == 1);
    assert_true(sample(metrics.text, "flashsale_audit_dropped_total") >= 0);
    free(metrics.text);

    engine_detach(handle);
    engine_close(engine);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
}

static account_t make_account(const char *username, const char *email)
{
    account_t account = {.role = ACCOUNT_ROLE_BUYER, .created_ms = 1771149600123LL};
    snprintf(account.username, sizeof(account.username), "%s", username);
    snprintf(account.email, sizeof(account.email), "%s", email);
    snprintf(account.full_name, sizeof(account.full_name), "Full name of %s", username);
    snprintf(account.password_hash, sizeof(account.password_hash), "$argon2id$hash-of-%s", username);
    return account;
}

static void test_accounts_through_the_engine(void **state)
{
    const scratch_dir_t *scratch = *state;
    char err[256] = "";
    engine_t *engine = engine_embedded_open(scratch->dir, err, sizeof(err));
    if (engine == NULL)
        fail_msg("open: %s", err);
    h2o_loop_t *loop = h2o_evloop_create();
    engine_loop_t *handle = engine_attach(engine, loop);
    account_t carol = make_account("carol", "carol@example.com"),
              again = make_account("CAROL", "c2@example.com"),
              same_email = make_account("caroline", "Carol@Example.com");
    answer_t created = {0}, found = {0}, by_email = {0}, missing = {0}, taken = {0}, email_taken = {0};

    /* the embedded engine has no store to share rate limits in: the API keeps them in process */
    assert_false(engine_shares_limits(handle));
    engine_create_account(handle, &carol, on_answer, &created);
    /* answered from the loop, after the accounts thread wrote it */
    assert_false(created.done);
    wait_for(loop, &created);
    assert_int_equal(created.status, ENGINE_OK);
    assert_string_equal(created.account.username, "carol");
    engine_find_account(handle, "CaRoL", on_answer, &found);
    engine_find_account(handle, "CAROL@example.com", on_answer, &by_email);
    engine_find_account(handle, "dave", on_answer, &missing);
    engine_create_account(handle, &again, on_answer, &taken);
    engine_create_account(handle, &same_email, on_answer, &email_taken);
    /* a detach answers everything in flight first */
    engine_detach(handle);
    assert_true(found.done && by_email.done && missing.done && taken.done && email_taken.done);
    assert_int_equal(found.status, ENGINE_OK);
    assert_string_equal(found.account.email, "carol@example.com");
    assert_string_equal(found.account.password_hash, carol.password_hash);
    assert_int_equal(by_email.status, ENGINE_OK);
    assert_string_equal(by_email.account.username, "carol");
    assert_int_equal(missing.status, ENGINE_NOT_FOUND);
    assert_int_equal(taken.status, ENGINE_CONFLICT);
    assert_string_equal(taken.invalid_field, "username");
    assert_int_equal(email_taken.status, ENGINE_CONFLICT);
    assert_string_equal(email_taken.invalid_field, "email");
    engine_close(engine);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_text_is_whole_and_counts_commits, scratch_dir_setup,
                                        scratch_dir_teardown),
        cmocka_unit_test_setup_teardown(test_accounts_through_the_engine, scratch_dir_setup,
                                        scratch_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
