/*
 * sold_out_cache: one loop thread's copy of the buyers of the sales that sold out, so that the
 * storm of purchases after a sell-out is answered without a Redis round trip.
 *
 * Why a copy can answer. Once a sale's stock is 0 its buyer set is final for that sale_id: stock
 * never comes back (an update is refused unless the sale is UPCOMING, and a sale that sold out has
 * started), a delete and a create give the sku a new sale_id, and a rebuild restores the buyers
 * Redis still knew — except after a Redis data loss, which gives the units of lost orders back
 * (reconcile.h; see Staleness). So after the purchase script answers SOLD_OUT for a sku, the loop loads
 * that sale once (redis_sale's sold_out script: sale_id, window and stock with the whole buyers
 * hash, in one atomic step) and from then on decides its purchases itself, in sale_decide's order,
 * as the script would: a buyer is told ALREADY_PURCHASED with the stored purchaseNo and
 * purchasedAt, anyone else SALE_NOT_ACTIVE once the window has ended, else SOLD_OUT.
 *
 * The one deviation from the script: the end of the window is compared with Redis' clock as the
 * loop estimates it (sale_snapshot_redis_now_ms: local clock plus the offset measured at the last
 * snapshot refresh, to within half a round trip), not with Redis' own TIME. Both answers are
 * refusals, so near the end a request may be told SOLD_OUT instead of SALE_NOT_ACTIVE or the
 * reverse; nothing is sold either way.
 *
 * Staleness. The engine checks a copy against the status snapshot before every answer (the
 * snapshot is at most SALE_SNAPSHOT_MAX_AGE_MS old and taken after this instance's last admin
 * write; when it is older, the answer waits for a refresh) and drops it when the snapshot shows
 * another sale_id for the sku, none, or stock (given back by a rebuild after a data loss). A delete and
 * re-create of the sku on another instance is therefore noticed within that bound (plus one refresh): until
 * then, purchases of the new sale may still get the old one's answers. A reconnect drops every copy: the
 * client may now talk to another Redis (after a failover), whose state is the one to answer from.
 *
 * Bounded: at most SOLD_OUT_CACHE_SALES sales per loop (the least recently used goes first), each
 * with at most SOLD_OUT_CACHE_MAX_BUYERS buyers; larger sales are not copied, so that no HGETALL
 * stalls Redis for long.
 */
#ifndef FLASHSALE_SOLD_OUT_CACHE_H
#define FLASHSALE_SOLD_OUT_CACHE_H

#include <h2o.h>

#include "core/sale.h"
#include "distributed/redis/redis_client.h"

#define SOLD_OUT_CACHE_SALES      16
#define SOLD_OUT_CACHE_MAX_BUYERS 100000
/* After a load found nothing to copy (or failed), the sku is not tried again for this long. */
#define SOLD_OUT_CACHE_RETRY_MS 1000

typedef struct sold_out_cache sold_out_cache_t;
typedef struct sold_out_sale sold_out_sale_t;

/* NULL when out of memory. Loads go through the loop's client. */
sold_out_cache_t *sold_out_cache_create(h2o_loop_t *loop, redis_client_t *redis);
/* After the client was destroyed, which ends every load in flight. */
void sold_out_cache_destroy(sold_out_cache_t *cache);

/* The loaded copy of sku's sale, or NULL; valid until the loop runs again. */
const sold_out_sale_t *sold_out_cache_find(sold_out_cache_t *cache, const char *sku);

/* The sale_id the copy belongs to. */
uint64_t sold_out_cache_sale_id(const sold_out_sale_t *sale);

/*
 * The script's decision for user_id at Redis time now_ms: ALREADY_PURCHASED (then purchase's number
 * and time are set), SALE_NOT_ACTIVE or SOLD_OUT.
 */
sale_outcome_t sold_out_cache_decide(const sold_out_sale_t *sale, const char *user_id, int64_t now_ms,
                                     sale_purchase_t *purchase);

/*
 * The purchase script answered SOLD_OUT for sku: starts loading its sale, unless it is loaded or
 * loading, or a load found nothing to copy less than SOLD_OUT_CACHE_RETRY_MS ago.
 */
void sold_out_cache_note(sold_out_cache_t *cache, const char *sku);

/* Forgets sku's copy (the snapshot shows another sale under that sku, or none). */
void sold_out_cache_drop(sold_out_cache_t *cache, const char *sku);

#endif
