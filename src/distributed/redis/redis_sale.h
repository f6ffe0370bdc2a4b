/*
 * redis_sale: one sale as Redis holds it — its key names, the Lua scripts that change it, and
 * the decoding of what they answer.
 *
 * The layout is outbox.h's. Every script touches the keys of one sale only, declared, under the
 * `#!lua` shebang: Redis then refuses undeclared or cross-slot keys, so the scripts run on Redis
 * Cluster unchanged, and refuses to start them when out of memory rather than fail half-way.
 * The one write that can fail is XADD with an explicit ID; a script either makes it before any
 * other write of the step it belongs to or undoes that step's earlier write when it fails, so no
 * script ever leaves a sale half-changed.
 *
 * Stream entry IDs are "<sequence>-0": the stream is then ordered and addressable by sequence,
 * which lets the admin listing merge it with PostgreSQL page by page.
 */
#ifndef FLASHSALE_REDIS_SALE_H
#define FLASHSALE_REDIS_SALE_H

#include <hiredis/hiredis.h>

#include "core/sale.h"
#include "distributed/redis/redis_client.h"

/* "flashsale:{" + sku + "}:buyers" + NUL, with room for the staging suffix of a rebuild. */
#define REDIS_SALE_KEY_MAX 128

typedef struct {
    char sale[REDIS_SALE_KEY_MAX];
    char buyers[REDIS_SALE_KEY_MAX];
    char orders[REDIS_SALE_KEY_MAX];
    size_t sale_len, buyers_len, orders_len;
} redis_sale_keys_t;

void redis_sale_keys(redis_sale_keys_t *keys, const char *sku);

/* The fields of the sale hash in the order REDIS_SALE_HMGET asks for them and decode expects. */
#define REDIS_SALE_FIELD_COUNT 7
extern const char *const redis_sale_fields[REDIS_SALE_FIELD_COUNT];

/*
 * Decodes REDIS_SALE_FIELD_COUNT bulk strings (an HMGET reply's elements) into every field of
 * sale but its sku; -1 if the sale is absent or malformed.
 */
int redis_sale_decode(redisReply *const *fields, sale_t *sale);

/*
 * The scripts; their SHAs are set by redis_sale_load_scripts. Keys and arguments:
 *   purchase  KEYS sale, buyers, orders; ARGV sku, then one user_id per purchase, decided in
 *             that order -> nil without a sale, else {sale_id, now_ms, then one result per
 *             user_id}: its sequence (a success), its buyers hash value (already purchased), or
 *             the negated REDIS_PURCHASE_* code of a refusal. Read with the functions below.
 *   create    KEYS sale, buyers, orders; ARGV sale_id, product_name, initial_stock, start_ms, end_ms,
 *             created_ms -> 1 created, 0 already there (the same sale_id)
 *   read      KEYS sale -> {now_ms, fields...} or {now_ms} when there is no sale
 *   update    KEYS sale, buyers; ARGV sale_id, product_name, initial_stock, start_ms, end_ms
 *             -> 0 updated, 1 no such sale, 2 no longer UPCOMING by Redis' clock
 *   delete    KEYS sale, buyers, orders; ARGV sale_id -> 1 deleted, 0 not that sale
 *   page      KEYS sale, orders; ARGV first_sequence, count
 *             -> nil without a sale, else {sale_id, last_sequence, then per order of this sale:
 *                sequence, purchase_no, user_id, purchased_ms}
 *   snapshot  KEYS orders, staging; ARGV sale_id, staging_ttl_seconds -> {orders copied (user_id ->
 *             "<purchase_no>|<purchased_ms>", as in buyers), the stream's last sequence or -1
 *             without a stream}
 *   rebuild   KEYS sale, buyers, orders, staging; ARGV sale_id, product_name, initial_stock,
 *             start_ms, end_ms, created_ms, sequence_floor (numbers continue above it and above
 *             the stream's last) -> 1 rebuilt, 0 present
 *   repair    KEYS sale, buyers, staging; ARGV sale_id, next_sequence -> 1 when the sale's next
 *             sequence was below next_sequence: raised to it, the staged buyers added and the stock
 *             counted again; 0 otherwise (another sale, or repaired already)
 *   sold_out  KEYS sale, buyers; ARGV max_buyers -> nil unless the sale exists, its stock is 0 and
 *             it has at most max_buyers buyers; else {sale_id, start_ms, end_ms, {user_id,
 *             "<purchase_no>|<purchased_ms>", ...}} (the buyers hash, whole)
 */
extern redis_script_t redis_sale_purchase_script;
extern redis_script_t redis_sale_create_script;
extern redis_script_t redis_sale_read_script;
extern redis_script_t redis_sale_update_script;
extern redis_script_t redis_sale_delete_script;
extern redis_script_t redis_sale_page_script;
extern redis_script_t redis_sale_snapshot_script;
extern redis_script_t redis_sale_rebuild_script;
extern redis_script_t redis_sale_repair_script;
extern redis_script_t redis_sale_sold_out_script;

/* The purchase script writes the refusals' codes negated, as the literals -3, -4 and -5. */
enum {
    REDIS_PURCHASE_SUCCESS = 0,
    REDIS_PURCHASE_NO_SALE = 1,
    REDIS_PURCHASE_ALREADY = 2,
    REDIS_PURCHASE_NOT_ACTIVE = 3,
    REDIS_PURCHASE_SOLD_OUT = 4,
    REDIS_PURCHASE_NOT_DECIDED = 5,
};

/* Fills purchase's purchase_no and purchased_ms from their texts; returns 0, or -1 when malformed. */
int redis_sale_set_purchase(sale_purchase_t *purchase, const char *number, size_t number_len, const char *ms,
                            size_t ms_len);

/*
 * Fills purchase's purchase_no and purchased_ms from a buyers hash value (a bulk string,
 * "<purchase_no>|<purchased_ms>"); returns 0, or -1 when it is malformed.
 */
int redis_sale_decode_buyer(const redisReply *value, sale_purchase_t *purchase);

/* 0 if reply is a well-formed purchase script reply for `count` user_ids; -1 otherwise. */
int redis_sale_purchase_reply_check(const redisReply *reply, size_t count);

/*
 * The outcome of the index-th user_id of a checked purchase script reply: a REDIS_PURCHASE_* code,
 * having filled purchase's purchase_no and purchased_ms for SUCCESS and ALREADY (the original
 * purchase); -1 when that result is malformed.
 */
int redis_sale_purchase_decode(const redisReply *reply, size_t index, sale_purchase_t *purchase);

enum {
    REDIS_UPDATE_OK = 0,
    REDIS_UPDATE_NO_SALE = 1,
    REDIS_UPDATE_STARTED = 2,
};

/* SCRIPT LOAD of every script above; returns 0, or -1 with err set. */
int redis_sale_load_scripts(redisContext *redis, char *err, size_t err_size);

/* Parses a whole decimal int64 of a bulk string or integer reply; returns 0 or -1. */
int redis_reply_int64(const redisReply *reply, int64_t *value);
/* The same for len bytes of text (a field of a reply, a cursor). */
int redis_parse_int64(const char *text, size_t len, int64_t *value);

#endif
