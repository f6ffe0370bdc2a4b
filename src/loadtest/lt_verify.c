#include "loadtest/lt_verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadtest/lt_client.h"

#define POLL_MIN_NS (200 * 1000 * 1000)
#define POLL_MAX_NS (2 * LT_NS_PER_SECOND)

const char *lt_check_status_name(lt_check_status_t status)
{
    switch (status) {
    case LT_CHECK_PASS:
        return "PASS";
    case LT_CHECK_FAIL:
        return "FAIL";
    case LT_CHECK_SKIPPED:
        return "SKIPPED";
    }
    return "FAIL";
}

static lt_check_t *add_check(lt_verification_t *out, const char *name, lt_check_status_t status)
{
    lt_check_t *check = &out->checks[out->count++];
    check->name = name;
    check->status = status;
    check->detail[0] = '\0';
    return check;
}

void lt_verify_stock_rule(int64_t stock_before, int64_t stock_after, const lt_buyers_tally_t *tally,
                          lt_check_t *out)
{
    int64_t sold = stock_before - stock_after;
    int64_t holders = (int64_t)tally->holders, sold_out = (int64_t)tally->sold_out,
            unknown = (int64_t)tally->unknown;
    int64_t lost_answers = sold - holders; /* orders that went to buyers without an answer */
    int64_t answered = holders + sold_out;
    int64_t expected = answered + lost_answers < stock_before ? answered + lost_answers : stock_before;
    char *detail = out->detail;
    size_t size = sizeof(out->detail);
    int len;

    out->name = "successes == min(stock, buyers)";
    out->status = LT_CHECK_FAIL;
    if (unknown == 0)
        len = snprintf(detail, size,
                       "%" PRId64 " successes == min(stock %" PRId64 ", %" PRId64
                       " buyers answered) = %" PRId64 "; the stock went from %" PRId64 " to %" PRId64,
                       holders, stock_before, answered, answered < stock_before ? answered : stock_before,
                       stock_before, stock_after);
    else
        len = snprintf(detail, size,
                       "%" PRId64 " successes + %" PRId64 " sold to the %" PRId64
                       " buyers left without an answer"
                       " == min(stock %" PRId64 ", %" PRId64 " answered + %" PRId64 ") = %" PRId64
                       "; the stock went from %" PRId64 " to %" PRId64,
                       holders, lost_answers, unknown, stock_before, answered, lost_answers, expected,
                       stock_before, stock_after);
    if (len < 0 || (size_t)len >= size)
        len = (int)size - 1;
    detail += len;
    size -= (size_t)len;
    if (lost_answers < 0)
        snprintf(detail, size,
                 ": FAIL, %" PRId64 " buyers were told they hold an order but only %" PRId64 " were sold",
                 holders, sold);
    else if (lost_answers > unknown)
        snprintf(detail, size,
                 ": FAIL, %" PRId64 " were sold, more than the buyers told success and unanswered", sold);
    else if (sold_out > 0 && stock_after != 0)
        snprintf(detail, size, ": FAIL, %" PRId64 " buyers were told SOLD_OUT while stock remained",
                 sold_out);
    else if (holders + lost_answers != expected)
        snprintf(detail, size, ": FAIL, buyers went without while stock remained");
    else
        out->status = LT_CHECK_PASS;
}

/* What one walk of the orders list found. */
typedef struct {
    const lt_verify_input_t *input;
    size_t prefix_len;
    lt_buyers_success_t **sorted; /* per thread: its successes sorted by buyer */
    uint8_t *seen;                /* by global buyer: times in the list, saturating at 255 */
    uint64_t seen_len;
    char **others; /* user ids not of this run, for the duplicate check */
    size_t others_len, others_capacity;
    uint64_t orders;
    uint64_t ours;
    uint64_t wrong_number;
    uint64_t told_no;
    char example[160]; /* one offending buyer, for the detail */
    bool out_of_memory;
} listing_t;

static int compare_success(const void *a, const void *b)
{
    uint64_t x = ((const lt_buyers_success_t *)a)->buyer, y = ((const lt_buyers_success_t *)b)->buyer;
    return x < y ? -1 : x > y;
}

static int compare_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The buyer index of "<prefix>-<digits>", or UINT64_MAX when the id is not one of this run. */
static uint64_t our_buyer(const listing_t *listing, const char *user_id)
{
    const char *digits = user_id + listing->prefix_len + 1;
    uint64_t buyer = 0;

    if (strncmp(user_id, listing->input->user_prefix, listing->prefix_len) != 0 ||
        user_id[listing->prefix_len] != '-' || digits[0] == '\0' || (digits[0] == '0' && digits[1] != '\0'))
        return UINT64_MAX;
    for (const char *at = digits; *at != '\0'; at++) {
        if (*at < '0' || *at > '9' || buyer > UINT64_MAX / 20)
            return UINT64_MAX;
        buyer = buyer * 10 + (uint64_t)(*at - '0');
    }
    return buyer < listing->seen_len ? buyer : UINT64_MAX;
}

static void on_order(void *context, const char *user_id, const char *purchase_no)
{
    listing_t *listing = context;
    const lt_verify_input_t *input = listing->input;
    uint64_t buyer = our_buyer(listing, user_id);
    int thread;
    const lt_buyers_t *buyers;
    uint8_t flags;

    listing->orders++;
    if (buyer == UINT64_MAX) {
        char *copy = strdup(user_id);
        if (listing->others_len == listing->others_capacity) {
            size_t capacity = listing->others_capacity == 0 ? 256 : listing->others_capacity * 2;
            char **grown = realloc(listing->others, capacity * sizeof(char *));
            if (grown == NULL) {
                free(copy);
                listing->out_of_memory = true;
                return;
            }
            listing->others = grown;
            listing->others_capacity = capacity;
        }
        if (copy == NULL) {
            listing->out_of_memory = true;
            return;
        }
        listing->others[listing->others_len++] = copy;
        return;
    }
    listing->ours++;
    if (listing->seen[buyer] < 255)
        listing->seen[buyer]++;
    thread = (int)(buyer % (uint64_t)input->threads);
    buyers = input->buyers[thread];
    flags = lt_buyers_flags(buyers, buyer / (uint64_t)input->threads);
    if (flags & LT_BUYER_SUCCESS) {
        lt_buyers_success_t key = {.buyer = buyer};
        const lt_buyers_success_t *told =
            bsearch(&key, listing->sorted[thread], buyers->success_len, sizeof(key), compare_success);
        if (told != NULL && (told->len != strlen(purchase_no) ||
                             memcmp(buyers->arena.data + told->offset, purchase_no, told->len) != 0)) {
            listing->wrong_number++;
            snprintf(listing->example, sizeof(listing->example), "%s was told %.*s, the list says %s",
                     user_id, (int)told->len, buyers->arena.data + told->offset, purchase_no);
        }
    } else if (!(flags & (LT_BUYER_ALREADY | LT_BUYER_UNKNOWN))) {
        listing->told_no++;
        snprintf(listing->example, sizeof(listing->example), "%s holds %s but was told %s", user_id,
                 purchase_no,
                 flags & LT_BUYER_SOLD_OUT ? "SOLD_OUT"
                 : flags & LT_BUYER_SENT   ? "no"
                                           : "nothing (never sent)");
    }
}

static void reset_listing(listing_t *listing)
{
    for (size_t i = 0; i < listing->others_len; i++)
        free(listing->others[i]);
    listing->others_len = 0;
    memset(listing->seen, 0, listing->seen_len);
    listing->orders = listing->ours = listing->wrong_number = listing->told_no = 0;
    listing->example[0] = '\0';
    listing->out_of_memory = false;
}

/* Buyers listed twice (of this run, and among the others). */
static uint64_t duplicates(listing_t *listing)
{
    uint64_t twice = 0;
    for (uint64_t b = 0; b < listing->seen_len; b++)
        twice += listing->seen[b] > 1;
    if (listing->others_len > 1)
        qsort(listing->others, listing->others_len, sizeof(char *), compare_string);
    for (size_t i = 1; i < listing->others_len; i++)
        twice += strcmp(listing->others[i - 1], listing->others[i]) == 0 &&
                 (i < 2 || strcmp(listing->others[i - 2], listing->others[i]) != 0);
    return twice;
}

/* Told-success buyers not in the list. */
static uint64_t missing(const listing_t *listing)
{
    const lt_verify_input_t *input = listing->input;
    uint64_t count = 0;
    for (int t = 0; t < input->threads; t++)
        for (size_t i = 0; i < input->buyers[t]->success_len; i++)
            count += listing->seen[input->buyers[t]->successes[i].buyer] == 0;
    return count;
}

static void sleep_ns(int64_t ns)
{
    struct timespec pause = {.tv_sec = ns / LT_NS_PER_SECOND, .tv_nsec = ns % LT_NS_PER_SECOND};
    nanosleep(&pause, NULL); /* a signal cuts it short, which is what Ctrl-C wants */
}

/* The checks on the orders list and the product, waiting for the orders to be persisted. */
static void verify_orders(const lt_verify_input_t *input, const lt_buyers_tally_t *tally,
                          lt_verification_t *out)
{
    listing_t listing = {.input = input, .prefix_len = strlen(input->user_prefix)};
    lt_product_t product = {0};
    lt_api_result_t result = LT_API_OK;
    char err[LT_CHECK_DETAIL_MAX] = "";
    int64_t start = lt_now_ns(), deadline = start + input->timeout_ns, pause = POLL_MIN_NS;
    uint64_t lost = 0, twice = 0, listed = 0;
    bool complete = false;
    lt_check_t *check;

    for (int t = 0; t < input->threads; t++) {
        /* thread t's last buyer is (len - 1) * threads + t */
        uint64_t len = input->buyers[t]->len;
        if (len > 0 && (len - 1) * (uint64_t)input->threads + (uint64_t)t + 1 > listing.seen_len)
            listing.seen_len = (len - 1) * (uint64_t)input->threads + (uint64_t)t + 1;
    }
    listing.seen = calloc(listing.seen_len > 0 ? listing.seen_len : 1, 1);
    listing.sorted = calloc(input->threads > 0 ? (size_t)input->threads : 1, sizeof(*listing.sorted));
    for (int t = 0; listing.sorted != NULL && t < input->threads; t++) {
        const lt_buyers_t *buyers = input->buyers[t];
        listing.sorted[t] =
            malloc((buyers->success_len > 0 ? buyers->success_len : 1) * sizeof(lt_buyers_success_t));
        if (listing.sorted[t] == NULL) {
            listing.out_of_memory = true;
            break;
        }
        if (buyers->success_len > 0)
            memcpy(listing.sorted[t], buyers->successes, buyers->success_len * sizeof(lt_buyers_success_t));
        qsort(listing.sorted[t], buyers->success_len, sizeof(lt_buyers_success_t), compare_success);
    }
    if (listing.seen == NULL || listing.sorted == NULL || listing.out_of_memory) {
        snprintf(err, sizeof(err), "out of memory for the orders list");
        result = LT_API_FAILED;
    }
    while (result == LT_API_OK) {
        reset_listing(&listing);
        result = lt_api_get_product(input->api, input->admin_key, input->sku, &product, err, sizeof(err));
        if (result == LT_API_OK)
            result = lt_api_list_orders(input->api, input->admin_key, input->sku, on_order, &listing, &listed,
                                        err, sizeof(err));
        if (result != LT_API_OK)
            break;
        lost = missing(&listing);
        /* done when every success is listed and the list holds all that the stock says was sold */
        complete = lost == 0 && product.current_stock == product.initial_stock - (int64_t)listing.orders;
        if (complete || lt_now_ns() >= deadline || *input->interrupted > 1)
            break;
        sleep_ns(pause);
        pause = pause * 2 < POLL_MAX_NS ? pause * 2 : POLL_MAX_NS;
    }
    if (result != LT_API_OK || listing.out_of_memory) {
        for (int i = 0; i < 4; i++) {
            static const char *const names[] = {"one order per buyer", "every success is in the orders list",
                                                "no order without a success", "stock == initial - sold"};
            check = add_check(out, names[i], LT_CHECK_FAIL);
            snprintf(check->detail, sizeof(check->detail), "%s",
                     listing.out_of_memory ? "out of memory" : err);
        }
        goto Exit;
    }
    twice = duplicates(&listing);
    check = add_check(out, "one order per buyer",
                      twice == 0 && tally->two_successes == 0 ? LT_CHECK_PASS : LT_CHECK_FAIL);
    snprintf(check->detail, sizeof(check->detail),
             "%" PRIu64 " orders, %" PRIu64 " buyers listed twice, %" PRIu64 " buyers told success twice",
             listing.orders, twice, tally->two_successes);

    check = add_check(out, "every success is in the orders list",
                      lost == 0 && listing.wrong_number == 0 ? LT_CHECK_PASS : LT_CHECK_FAIL);
    snprintf(check->detail, sizeof(check->detail),
             "%" PRIu64 " of %" PRIu64 " buyers told success are listed, %" PRIu64
             " with another purchase number (waited %.1f s%s)%s%s",
             tally->told_success - lost, tally->told_success, listing.wrong_number,
             (double)(lt_now_ns() - start) / 1e9, complete ? "" : ", not complete",
             listing.wrong_number ? ": " : "", listing.wrong_number ? listing.example : "");

    check =
        add_check(out, "no order without a success", listing.told_no == 0 ? LT_CHECK_PASS : LT_CHECK_FAIL);
    snprintf(check->detail, sizeof(check->detail),
             "%" PRIu64 " orders of this run's buyers; %" PRIu64 " held by buyers told no%s%s", listing.ours,
             listing.told_no, listing.told_no ? ", e.g. " : "", listing.told_no ? listing.example : "");

    check =
        add_check(out, "stock == initial - sold",
                  product.current_stock == product.initial_stock - (int64_t)listing.orders ? LT_CHECK_PASS
                                                                                           : LT_CHECK_FAIL);
    snprintf(check->detail, sizeof(check->detail),
             "remaining %" PRId64 " %s initial %" PRId64 " - %" PRIu64
             " orders listed (the server counts %" PRId64 " purchases)",
             product.current_stock,
             product.current_stock == product.initial_stock - (int64_t)listing.orders ? "==" : "!=",
             product.initial_stock, listing.orders, product.total_purchases);
Exit:
    reset_listing(&listing);
    free(listing.others);
    free(listing.seen);
    for (int t = 0; listing.sorted != NULL && t < input->threads; t++)
        free(listing.sorted[t]);
    free(listing.sorted);
}

void lt_verify_run(const lt_verify_input_t *input, lt_verification_t *out)
{
    lt_buyers_tally_t tally = {0};
    lt_sale_t sale;
    char err[LT_CHECK_DETAIL_MAX];
    lt_check_t *check;
    double error_rate = input->requests > 0 ? (double)input->errors / (double)input->requests : 0;
    bool memory_failed = false;

    out->count = 0;
    out->passed = true;
    for (int t = 0; t < input->threads; t++) {
        lt_buyers_count(input->buyers[t], &tally);
        memory_failed = memory_failed || input->buyers[t]->failed;
    }
    if (!input->verify) {
        for (int i = 0; i < 5; i++) {
            static const char *const names[] = {"successes == min(stock, buyers)", "one order per buyer",
                                                "every success is in the orders list",
                                                "no order without a success", "stock == initial - sold"};
            snprintf(add_check(out, names[i], LT_CHECK_SKIPPED)->detail, LT_CHECK_DETAIL_MAX, "--no-verify");
        }
    } else if (memory_failed) {
        snprintf(add_check(out, "successes == min(stock, buyers)", LT_CHECK_FAIL)->detail,
                 LT_CHECK_DETAIL_MAX, "out of memory while recording the answers: nothing can be verified");
    } else {
        check = add_check(out, "successes == min(stock, buyers)", LT_CHECK_FAIL);
        if (lt_api_get_sale(input->api, input->sku, 10 * LT_NS_PER_SECOND, &sale, err, sizeof(err)) !=
            LT_API_OK)
            snprintf(check->detail, sizeof(check->detail), "%s", err);
        else
            lt_verify_stock_rule(input->stock_before, sale.stock, &tally, check);
        if (input->admin_key != NULL) {
            verify_orders(input, &tally, out);
        } else {
            static const char *const reason =
                "needs --admin-key: the orders list and the product are admin endpoints";
            check = add_check(out, "one order per buyer",
                              tally.two_successes > 0 ? LT_CHECK_FAIL : LT_CHECK_SKIPPED);
            snprintf(check->detail, sizeof(check->detail), "%s (%" PRIu64 " buyers were told success twice)",
                     reason, tally.two_successes);
            snprintf(add_check(out, "every success is in the orders list", LT_CHECK_SKIPPED)->detail,
                     LT_CHECK_DETAIL_MAX, "%s", reason);
            snprintf(add_check(out, "no order without a success", LT_CHECK_SKIPPED)->detail,
                     LT_CHECK_DETAIL_MAX, "%s", reason);
            snprintf(add_check(out, "stock == initial - sold", LT_CHECK_SKIPPED)->detail, LT_CHECK_DETAIL_MAX,
                     "%s", reason);
        }
    }
    check = add_check(out, "error rate", error_rate <= input->max_error_rate ? LT_CHECK_PASS : LT_CHECK_FAIL);
    snprintf(check->detail, sizeof(check->detail),
             "%" PRIu64 " errors in %" PRIu64 " requests and connects = %.2f%% %s %.2f%%", input->errors,
             input->requests, error_rate * 100, error_rate <= input->max_error_rate ? "<=" : ">",
             input->max_error_rate * 100);
    for (int i = 0; i < out->count; i++)
        if (out->checks[i].status == LT_CHECK_FAIL)
            out->passed = false;
}
