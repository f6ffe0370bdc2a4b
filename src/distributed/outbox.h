/*
 * outbox: the Redis data layout shared by the server's purchase script and the worker.
 *
 * Every key of one sale carries the hash tag {sku}, so one script touches one slot and the
 * layout runs on Redis Cluster unchanged. The order stream is the outbox: the purchase script
 * appends to it in the same atomic step that decides, so there is no moment when a sale is
 * decided but its order is not queued. The worker reads it with a consumer group and acknowledges
 * an entry only after PostgreSQL committed it. An entry may leave the stream (XDEL, XTRIM) only
 * once committed, and the worker deletes it then; so whoever combines the stream with PostgreSQL
 * (the rebuild of an absent sale, the admin listing) reads the stream first and PostgreSQL
 * afterwards, and finds every order in one of them.
 *
 *   flashsale:{SKU}:sale    hash: sale_id, product_name, initial_stock, stock, start_ms, end_ms,
 *                                 created_ms, next_sequence
 *   flashsale:{SKU}:buyers  hash: user_id -> "<purchase_no>|<purchased_ms>"
 *   flashsale:{SKU}:orders  stream of orders, fields below; entry ID "<sequence>-0". The consumer
 *                           group is created with the stream, from ID 0.
 *   flashsale:sales         set of every live sku (one key of its own slot; read for listings and
 *                           by the worker to find the streams). It may name a sku whose sale hash
 *                           is gone: readers skip those. A sale hash is created before its sku is
 *                           added, and a sku is removed only if its hash is still absent afterwards.
 *   flashsale:ready         set once Redis holds every sale of PostgreSQL; absent after a FLUSHALL
 *                           or on a new node, which makes the server reconcile
 *   flashsale:{SKU}:staging:<unique>  hash of buyers read from PostgreSQL while rebuilding a sale
 *   flashsale:orders:dead   stream of orders that failed FLASHSALE_MAX_DELIVERIES times
 *   flashsale:stock         pub/sub channel: "<sku> <stock> <sale_id>" after every purchase script
 *                           call that sold (one call decides a batch of purchases of one sale)
 *   flashsale:changes       pub/sub channel: "<sku>" once a create, update or delete of that sale is
 *                           applied in Redis (by the server that made it, or by the reconciler)
 * Both channels are heard by one subscription per server instance (sale_changes.h), for the
 * live events.
 */
#ifndef FLASHSALE_OUTBOX_H
#define FLASHSALE_OUTBOX_H

#define OUTBOX_KEY_PREFIX      "flashsale:"
#define OUTBOX_SALES_SET       "flashsale:sales"
#define OUTBOX_READY_KEY       "flashsale:ready"
#define OUTBOX_DEAD_LETTER     "flashsale:orders:dead"
#define OUTBOX_STOCK_CHANNEL   "flashsale:stock"
#define OUTBOX_CHANGES_CHANNEL "flashsale:changes"
#define OUTBOX_CONSUMER_GROUP  "persisters"
#define OUTBOX_MAX_DELIVERIES  5

/*
 * Fields of one order entry in flashsale:{SKU}:orders. The rest of the order follows from where
 * the entry is: its sku from the key, its sequence from the entry ID, its purchase_no from
 * sale_id and sequence (entries of older versions carry those as fields too; readers ignore them).
 */
#define OUTBOX_FIELD_SALE_ID      "sale_id"
#define OUTBOX_FIELD_USER_ID      "user_id"
#define OUTBOX_FIELD_PURCHASED_MS "purchased_ms"

#endif
