/*
 * lt_verify: after the storm, proves through the API that the sale stayed correct, each check a
 * PASS, FAIL or SKIPPED line with its numbers.
 *
 * What is exactly knowable. Every buyer of the run ends in one of four states: it holds an order
 * (told success or ALREADY_PURCHASED), it holds none (told SOLD_OUT), it was refused before any
 * decision (SALE_NOT_ACTIVE, a 4xx, 429), or nobody knows: an attempt got no answer (in flight when
 * a --duration or Ctrl-C cut the run, timed out, connection lost, 5xx). The server may have sold to
 * those last buyers. So with W holders, N sold-out buyers and U unknown ones, and `sold` the stock
 * the sale lost during the run (from its public stock before and after), X = sold - W orders went to
 * unknown buyers, and the rule is: 0 <= X <= U, and W + X == min(stock before, W + N + X) — every
 * buyer who reached a decision got one while stock lasted, and a SOLD_OUT answer means none was
 * left. With no unknown buyer this is exactly successes == min(stock, distinct buyers answered). It
 * assumes nobody else buys from the sale during the run.
 *
 * With the admin key it also reads the orders list (following meta.nextCursor), waiting up to the
 * verify timeout for the orders to be persisted: every buyer told success is there with the
 * purchase number it was told, no buyer appears twice, no buyer of the run told "no" holds an order,
 * and the remaining stock equals the initial stock minus the orders. Without the key those checks
 * are SKIPPED, with that reason.
 */
#ifndef FLASHSALE_LT_VERIFY_H
#define FLASHSALE_LT_VERIFY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "loadtest/lt_api.h"
#include "loadtest/lt_buyers.h"

#define LT_CHECKS_MAX       8
#define LT_CHECK_DETAIL_MAX 512

typedef enum { LT_CHECK_PASS, LT_CHECK_FAIL, LT_CHECK_SKIPPED } lt_check_status_t;

typedef struct {
    const char *name;
    lt_check_status_t status;
    char detail[LT_CHECK_DETAIL_MAX];
} lt_check_t;

typedef struct {
    lt_check_t checks[LT_CHECKS_MAX];
    int count;
    bool passed; /* no check failed */
} lt_verification_t;

typedef struct {
    lt_api_t *api;
    const char *sku;
    const char *admin_key; /* NULL: the admin checks are skipped */
    const char *user_prefix;
    int64_t stock_before;
    const lt_buyers_t *const *buyers; /* one per client thread */
    int threads;
    uint64_t requests; /* answered or failed, plus failed connects */
    uint64_t errors;   /* failed requests and connects */
    double max_error_rate;
    bool verify; /* false: only the error rate */
    int64_t timeout_ns;
    volatile sig_atomic_t *interrupted; /* > 1: stop waiting for the orders list */
} lt_verify_input_t;

void lt_verify_run(const lt_verify_input_t *input, lt_verification_t *out);

/* The stock rule above, on its own (pure; for the unit tests). */
void lt_verify_stock_rule(int64_t stock_before, int64_t stock_after, const lt_buyers_tally_t *tally,
                          lt_check_t *out);

const char *lt_check_status_name(lt_check_status_t status);

#endif
