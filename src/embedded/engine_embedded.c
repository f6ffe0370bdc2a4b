#include "embedded/engine_embedded.h"

#include <assert.h>
#include <h2o.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buyer_index.h"
#include "core/clock.h"
#include "core/strbuf.h"
#include "embedded/account_ops.h"
#include "embedded/accounts.h"
#include "embedded/audit.h"
#include "embedded/ledger.h"

typedef struct {
    sale_t sale; /* stock is the live count */
    buyer_index_t buyers;
    /* The ledger sequence of the newest write this sale's state depends on: an answer derived
       from that state (SOLD_OUT, a lookup) waits until it is durable. */
    uint64_t last_ledger_sequence;
} sale_entry_t;

/*
 * How long an answer may wait for its commit. Commits take milliseconds; a disk that stalls this
 * long is failing, and the buyer is better served by a 503 ("outcome unknown, look it up") than by
 * a connection that hangs. The order itself stays queued and is committed if the disk recovers.
 */
#define DURABLE_WAIT_LIMIT_MS 2000
#define EXPIRY_CHECK_MS       250

/* An answer waiting for the ledger; the result's pointers are set when it is delivered. */
typedef struct {
    h2o_linklist_t link;
    uint64_t ledger_sequence;
    int64_t deadline_ms; /* monotonic */
    engine_cb cb;
    void *ctx;
    engine_result_t result;
    sale_purchase_t purchase;
    sale_t sale;
} waiter_t;

typedef struct embedded_engine embedded_engine_t;

typedef struct embedded_loop {
    engine_loop_t super;
    embedded_engine_t *engine;
    h2o_loop_t *h2o_loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    h2o_multithread_message_t wake_message;
    atomic_bool wake_pending;
    /* Sequence the oldest waiter needs, 0 when none waits; read by the ledger's writer to decide
       whether to wake this loop. */
    _Atomic uint64_t head_sequence;
    h2o_linklist_t waiters; /* in arrival order, so the head has the earliest deadline */
    h2o_timeout_t expiry_timeout;
    h2o_timeout_entry_t expiry_entry; /* linked while anyone waits */
    strbuf_t metrics;                 /* the text of /metrics, rebuilt per scrape */
    /* The watcher (engine.h, watch). The ledger's writer wakes the loop after a commit newer than
       what the watcher was last shown, through its own message: once per commit at most, however
       many purchases the commit holds. */
    engine_watch_cb watch_cb;
    void *watch_ctx;
    h2o_multithread_message_t watch_message;
    atomic_bool watching;
    atomic_bool watch_pending;    /* watch_message is queued */
    _Atomic uint64_t watch_shown; /* the durable sequence read before the watcher's last copy */
    account_ops_t *accounts;
    struct embedded_loop *next;
} embedded_loop_t;

struct embedded_engine {
    engine_t super;
    ledger_t *ledger;
    audit_t *audit;
    accounts_t *accounts;

    pthread_mutex_t lock; /* guards everything below */
    sale_entry_t **slots; /* open addressing by sku, NULL = empty; at most half full */
    size_t slot_count;
    size_t sale_count;
    uint64_t next_sale_id;

    pthread_mutex_t loops_lock; /* guards the loop list against attach/detach during a wake */
    embedded_loop_t *loops;
};

/* ---- the sale table ---------------------------------------------------------------------- */

static uint64_t hash_sku(const char *sku)
{
    uint64_t hash = 1469598103934665603ull; /* FNV-1a */
    for (; *sku != '\0'; ++sku)
        hash = (hash ^ (unsigned char)*sku) * 1099511628211ull;
    return hash;
}

/* The slot holding sku, or the empty slot where it would go. */
static size_t find_slot(const embedded_engine_t *engine, const char *sku)
{
    size_t mask = engine->slot_count - 1, slot = hash_sku(sku) & mask;
    while (engine->slots[slot] != NULL && strcmp(engine->slots[slot]->sale.sku, sku) != 0)
        slot = (slot + 1) & mask;
    return slot;
}

static sale_entry_t *find_sale(const embedded_engine_t *engine, const char *sku)
{
    return engine->slots[find_slot(engine, sku)];
}

static int grow_table(embedded_engine_t *engine)
{
    sale_entry_t **old = engine->slots;
    size_t old_count = engine->slot_count;
    size_t new_count = old_count == 0 ? 64 : old_count * 2;

    if ((engine->slots = calloc(new_count, sizeof(*engine->slots))) == NULL) {
        engine->slots = old;
        return -1;
    }
    engine->slot_count = new_count;
    for (size_t i = 0; i < old_count; ++i)
        if (old[i] != NULL)
            engine->slots[find_slot(engine, old[i]->sale.sku)] = old[i];
    free(old);
    return 0;
}

static int insert_sale(embedded_engine_t *engine, sale_entry_t *entry)
{
    if ((engine->sale_count + 1) * 2 > engine->slot_count && grow_table(engine) != 0)
        return -1;
    engine->slots[find_slot(engine, entry->sale.sku)] = entry;
    ++engine->sale_count;
    return 0;
}

/* Backward-shift deletion keeps every probe sequence unbroken without tombstones. */
static void remove_sale(embedded_engine_t *engine, const char *sku)
{
    size_t mask = engine->slot_count - 1, hole = find_slot(engine, sku), next = hole;

    assert(engine->slots[hole] != NULL);
    engine->slots[hole] = NULL;
    --engine->sale_count;
    for (next = (hole + 1) & mask; engine->slots[next] != NULL; next = (next + 1) & mask) {
        size_t home = hash_sku(engine->slots[next]->sale.sku) & mask;
        /* the entry may move into the hole only if the hole lies on its probe path */
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            engine->slots[hole] = engine->slots[next];
            engine->slots[next] = NULL;
            hole = next;
        }
    }
}

static sale_entry_t *new_entry(const sale_t *sale)
{
    sale_entry_t *entry = calloc(1, sizeof(*entry));
    if (entry != NULL) {
        entry->sale = *sale;
        buyer_index_init(&entry->buyers);
    }
    return entry;
}

static void free_entry(sale_entry_t *entry)
{
    buyer_index_dispose(&entry->buyers);
    free(entry);
}

static void fill_purchase(sale_purchase_t *out, const sale_entry_t *entry, const buyer_entry_t *buyer)
{
    sale_format_purchase_no(out->purchase_no, entry->sale.sale_id, buyer->sequence);
    memcpy(out->sku, entry->sale.sku, sizeof(out->sku));
    snprintf(out->user_id, sizeof(out->user_id), "%s", buyer->user_id);
    out->purchased_ms = buyer->purchased_ms;
}

static int compare_sale_ids(const void *left, const void *right)
{
    const sale_t *a = left, *b = right;
    return a->sale_id < b->sale_id ? -1 : a->sale_id > b->sale_id;
}

/*
 * The purchases of a sale that are committed: a sale's purchases take ledger sequences in purchase
 * order (both under the engine lock) and the ledger commits in sequence order, so the committed
 * ones are a prefix of the buyer array, found by binary search.
 */
static int64_t count_persisted(const sale_entry_t *entry, uint64_t durable)
{
    size_t low = 0, high = entry->buyers.count;

    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (entry->buyers.entries[middle].ledger_sequence <= durable)
            low = middle + 1;
        else
            high = middle;
    }
    return (int64_t)low;
}

/* A copy of the sale for a read, with its committed purchases counted. */
static sale_t read_sale(const sale_entry_t *entry, uint64_t durable)
{
    sale_t sale = entry->sale;
    sale.persisted_purchases = count_persisted(entry, durable);
    return sale;
}

/* Every sale in sale_id order, with its committed purchases counted, or NULL when out of memory;
   the caller frees it. */
static sale_t *copy_sales(embedded_engine_t *engine, size_t *count)
{
    uint64_t durable = ledger_durable_sequence(engine->ledger);
    sale_t *sales;

    *count = 0;
    pthread_mutex_lock(&engine->lock);
    if ((sales = malloc((engine->sale_count + 1) * sizeof(*sales))) != NULL)
        for (size_t i = 0; i < engine->slot_count; ++i)
            if (engine->slots[i] != NULL)
                sales[(*count)++] = read_sale(engine->slots[i], durable);
    pthread_mutex_unlock(&engine->lock);
    if (sales != NULL)
        qsort(sales, *count, sizeof(*sales), compare_sale_ids);
    return sales;
}

/* ---- answering once durable -------------------------------------------------------------- */

static void deliver(waiter_t *waiter)
{
    if (waiter->result.purchase != NULL)
        waiter->result.purchase = &waiter->purchase;
    if (waiter->result.sale != NULL)
        waiter->result.sale = &waiter->sale;
    waiter->cb(waiter->ctx, &waiter->result);
    free(waiter);
}

static void publish_head(embedded_loop_t *loop)
{
    uint64_t head = 0;
    if (!h2o_linklist_is_empty(&loop->waiters))
        head = H2O_STRUCT_FROM_MEMBER(waiter_t, link, loop->waiters.next)->ledger_sequence;
    atomic_store(&loop->head_sequence, head);
}

/* Answers every waiter whose write is durable. Waiters are in arrival order, which is nearly
   sequence order; one that needs an older write than the head waits at most one more commit. */
static void drain(embedded_loop_t *loop)
{
    uint64_t durable = ledger_durable_sequence(loop->engine->ledger);

    while (!h2o_linklist_is_empty(&loop->waiters)) {
        waiter_t *waiter = H2O_STRUCT_FROM_MEMBER(waiter_t, link, loop->waiters.next);
        if (waiter->ledger_sequence > durable)
            break;
        h2o_linklist_unlink(&waiter->link);
        deliver(waiter);
    }
    publish_head(loop);
}

/* Answers 503 to every waiter past its deadline, and keeps checking while any remain. */
static void on_expiry_check(h2o_timeout_entry_t *entry)
{
    embedded_loop_t *loop = H2O_STRUCT_FROM_MEMBER(embedded_loop_t, expiry_entry, entry);
    int64_t now = clock_monotonic_ms();

    drain(loop);
    while (!h2o_linklist_is_empty(&loop->waiters)) {
        waiter_t *waiter = H2O_STRUCT_FROM_MEMBER(waiter_t, link, loop->waiters.next);
        if (waiter->deadline_ms > now)
            break;
        h2o_linklist_unlink(&waiter->link);
        waiter->cb(waiter->ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        free(waiter);
    }
    publish_head(loop);
    if (!h2o_linklist_is_empty(&loop->waiters))
        h2o_timeout_link(loop->h2o_loop, &loop->expiry_timeout, &loop->expiry_entry);
}

/* Shows the watcher every sale. The durable sequence is read before the copy: a change missing
   from the copy was appended after it, so its commit is newer than watch_shown and wakes the loop. */
static void show_watcher(embedded_loop_t *loop)
{
    uint64_t durable = ledger_durable_sequence(loop->engine->ledger);
    size_t count;
    sale_t *sales;

    if (loop->watch_cb == NULL)
        return;
    if ((sales = copy_sales(loop->engine, &count)) == NULL) {
        /* out of memory: the next commit tries again */
        return;
    }
    atomic_store(&loop->watch_shown, durable);
    loop->watch_cb(loop->watch_ctx, sales, count);
    free(sales);
}

static void on_wake(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    embedded_loop_t *loop = H2O_STRUCT_FROM_MEMBER(embedded_loop_t, receiver, receiver);
    bool wake = false, watch = false;

    /* the messages are our own static ones: unlink them, then allow the next ones before acting so
       that a commit landing meanwhile is not missed */
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *message =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&message->link);
        if (message == &loop->watch_message)
            watch = true;
        else
            wake = true;
    }
    if (wake) {
        atomic_store(&loop->wake_pending, false);
        drain(loop);
    }
    if (watch) {
        atomic_store(&loop->watch_pending, false);
        show_watcher(loop);
    }
}

static void send_watch(embedded_loop_t *loop)
{
    if (!atomic_exchange(&loop->watch_pending, true))
        h2o_multithread_send_message(&loop->receiver, &loop->watch_message);
}

/* Runs on the ledger's writer thread after every commit. */
static void on_durable(void *arg, uint64_t durable_sequence)
{
    embedded_engine_t *engine = arg;

    pthread_mutex_lock(&engine->loops_lock);
    for (embedded_loop_t *loop = engine->loops; loop != NULL; loop = loop->next) {
        uint64_t head = atomic_load(&loop->head_sequence);
        if (head != 0 && head <= durable_sequence && !atomic_exchange(&loop->wake_pending, true))
            h2o_multithread_send_message(&loop->receiver, &loop->wake_message);
        if (atomic_load(&loop->watching) && durable_sequence > atomic_load(&loop->watch_shown))
            send_watch(loop);
    }
    pthread_mutex_unlock(&engine->loops_lock);
}

/*
 * Calls back now if the write the answer depends on is durable, else queues the answer. The
 * result's purchase and sale, if set, must point at waiter-sized copies the caller filled in.
 */
static void answer_when_durable(embedded_loop_t *loop, uint64_t ledger_sequence, engine_result_t *result,
                                const sale_purchase_t *purchase, const sale_t *sale, engine_cb cb, void *ctx)
{
    waiter_t *waiter;

    if (ledger_sequence <= ledger_durable_sequence(loop->engine->ledger)) {
        cb(ctx, result);
        return;
    }
    if ((waiter = malloc(sizeof(*waiter))) == NULL) {
        cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        return;
    }
    *waiter = (waiter_t){.ledger_sequence = ledger_sequence,
                         .deadline_ms = clock_monotonic_ms() + DURABLE_WAIT_LIMIT_MS,
                         .cb = cb,
                         .ctx = ctx,
                         .result = *result};
    if (purchase != NULL)
        waiter->purchase = *purchase;
    if (sale != NULL)
        waiter->sale = *sale;
    h2o_linklist_insert(&loop->waiters, &waiter->link);
    if (!h2o_timeout_is_linked(&loop->expiry_entry))
        h2o_timeout_link(loop->h2o_loop, &loop->expiry_timeout, &loop->expiry_entry);
    publish_head(loop);
    /* Pairs with on_durable: it stores the durable sequence, then reads head_sequence; we stored
       head_sequence, now read the durable sequence. One of the two sees the other (seq_cst), so
       a commit that raced with the insert cannot leave this waiter asleep. */
    if (ledger_sequence <= ledger_durable_sequence(loop->engine->ledger))
        drain(loop);
}

/* ---- operations ---------------------------------------------------------------------------- */

static embedded_loop_t *to_loop(engine_loop_t *loop)
{
    return (embedded_loop_t *)loop;
}

static void embedded_purchase(engine_loop_t *base, const char *sku, const char *user_id, engine_cb cb,
                              void *ctx)
{
    embedded_loop_t *loop = to_loop(base);
    embedded_engine_t *engine = loop->engine;
    int64_t now = clock_now_ms();
    engine_result_t result = {.status = ENGINE_OK, .outcome = SALE_OUTCOME_NOT_FOUND};
    sale_purchase_t purchase;
    uint64_t depends_on = 0;
    sale_entry_t *entry;

    pthread_mutex_lock(&engine->lock);
    if ((entry = find_sale(engine, sku)) != NULL) {
        const buyer_entry_t *buyer = buyer_index_find(&entry->buyers, user_id, strlen(user_id));
        result.outcome = sale_decide(&entry->sale, buyer != NULL, now);
        if (result.outcome == SALE_OUTCOME_SUCCESS) {
            uint64_t sequence = entry->buyers.count + 1;
            sale_format_purchase_no(purchase.purchase_no, entry->sale.sale_id, sequence);
            memcpy(purchase.sku, entry->sale.sku, sizeof(purchase.sku));
            snprintf(purchase.user_id, sizeof(purchase.user_id), "%s", user_id);
            purchase.purchased_ms = now;
            depends_on = ledger_append_purchase(engine->ledger, entry->sale.sale_id, sequence, &purchase);
            buyer = buyer_index_add(&entry->buyers, user_id, strlen(user_id), now, sequence, depends_on);
            /* The ledger already holds the order: losing the index entry would let the user buy
               twice, so out of memory here is not survivable. */
            if (buyer == NULL)
                abort();
            --entry->sale.stock;
            entry->last_ledger_sequence = depends_on;
        } else if (result.outcome == SALE_OUTCOME_ALREADY_PURCHASED) {
            fill_purchase(&purchase, entry, buyer);
            depends_on = buyer->ledger_sequence;
        } else {
            depends_on = entry->last_ledger_sequence;
        }
    }
    pthread_mutex_unlock(&engine->lock);

    if (result.outcome == SALE_OUTCOME_SUCCESS || result.outcome == SALE_OUTCOME_ALREADY_PURCHASED)
        result.purchase = &purchase;
    audit_push(engine->audit, now, sku, user_id, result.outcome,
               result.outcome == SALE_OUTCOME_SUCCESS ? purchase.purchase_no : NULL);
    answer_when_durable(loop, depends_on, &result, result.purchase, NULL, cb, ctx);
}

static void embedded_get_purchase(engine_loop_t *base, const char *sku, const char *user_id, engine_cb cb,
                                  void *ctx)
{
    embedded_loop_t *loop = to_loop(base);
    engine_result_t result = {.status = ENGINE_NOT_FOUND};
    sale_purchase_t purchase;
    uint64_t depends_on = 0;
    sale_entry_t *entry;

    pthread_mutex_lock(&loop->engine->lock);
    if ((entry = find_sale(loop->engine, sku)) != NULL) {
        const buyer_entry_t *buyer = buyer_index_find(&entry->buyers, user_id, strlen(user_id));
        if (buyer != NULL) {
            fill_purchase(&purchase, entry, buyer);
            depends_on = buyer->ledger_sequence;
            result = (engine_result_t){.status = ENGINE_OK, .purchase = &purchase};
        }
    }
    pthread_mutex_unlock(&loop->engine->lock);
    answer_when_durable(loop, depends_on, &result, result.purchase, NULL, cb, ctx);
}

/* Status reads show the live stock without waiting for the disk: they acknowledge nothing. */
static void embedded_get_sale(engine_loop_t *base, const char *sku, engine_cb cb, void *ctx)
{
    embedded_loop_t *loop = to_loop(base);
    uint64_t durable = ledger_durable_sequence(loop->engine->ledger);
    engine_result_t result = {.status = ENGINE_NOT_FOUND};
    sale_entry_t *entry;
    sale_t sale;

    pthread_mutex_lock(&loop->engine->lock);
    if ((entry = find_sale(loop->engine, sku)) != NULL) {
        sale = read_sale(entry, durable);
        result = (engine_result_t){.status = ENGINE_OK, .sale = &sale};
    }
    pthread_mutex_unlock(&loop->engine->lock);
    cb(ctx, &result);
}

static void embedded_list_sales(engine_loop_t *base, engine_cb cb, void *ctx)
{
    size_t count;
    sale_t *sales = copy_sales(to_loop(base)->engine, &count);

    if (sales == NULL) {
        cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        return;
    }
    cb(ctx, &(engine_result_t){.status = ENGINE_OK, .sales = sales, .sale_count = count});
    free(sales);
}

static void embedded_create_sale(engine_loop_t *base, const sale_fields_t *fields, engine_cb cb, void *ctx)
{
    embedded_loop_t *loop = to_loop(base);
    embedded_engine_t *engine = loop->engine;
    engine_result_t result = {.status = ENGINE_CONFLICT};
    uint64_t depends_on = 0;
    sale_entry_t *entry;
    sale_t sale = {
        .initial_stock = fields->initial_stock,
        .stock = fields->initial_stock,
        .start_ms = fields->start_ms,
        .end_ms = fields->end_ms,
        .created_ms = clock_now_ms(),
    };

    memcpy(sale.sku, fields->sku, sizeof(sale.sku));
    memcpy(sale.product_name, fields->product_name, sizeof(sale.product_name));
    pthread_mutex_lock(&engine->lock);
    if ((entry = find_sale(engine, sale.sku)) != NULL) {
        /* The same create again (a retry whose first answer was lost): answered with the sale as
           it is now, once the state it shows is durable. */
        if (sale_matches_create(&entry->sale, fields)) {
            sale = entry->sale;
            depends_on = entry->last_ledger_sequence;
            result = (engine_result_t){.status = ENGINE_OK, .sale = &sale};
        }
    } else {
        sale.sale_id = engine->next_sale_id;
        if ((entry = new_entry(&sale)) == NULL || insert_sale(engine, entry) != 0) {
            free(entry);
            result.status = ENGINE_UNAVAILABLE;
        } else {
            ++engine->next_sale_id;
            depends_on = entry->last_ledger_sequence = ledger_append_sale(engine->ledger, &sale);
            result = (engine_result_t){.status = ENGINE_OK, .sale = &sale};
        }
    }
    pthread_mutex_unlock(&engine->lock);
    answer_when_durable(loop, depends_on, &result, NULL, result.sale, cb, ctx);
}

static void embedded_update_sale(engine_loop_t *base, const char *sku, const sale_fields_t *fields,
                                 engine_cb cb, void *ctx)
{
    embedded_loop_t *loop = to_loop(base);
    embedded_engine_t *engine = loop->engine;
    engine_result_t result = {.status = ENGINE_NOT_FOUND};
    uint64_t depends_on = 0;
    sale_entry_t *entry;
    sale_t sale;

    pthread_mutex_lock(&engine->lock);
    if ((entry = find_sale(engine, sku)) != NULL) {
        const char *message, *field;
        if (!sale_update_changes(&entry->sale, fields)) {
            /* Nothing to change (a retry of an update that was applied, say): the sale as it is,
               in any state, once that state is durable. */
            sale = entry->sale;
            depends_on = entry->last_ledger_sequence;
            result = (engine_result_t){.status = ENGINE_OK, .sale = &sale};
        } else if (sale_state(&entry->sale, clock_now_ms()) != SALE_STATE_UPCOMING) {
            result.status = ENGINE_NOT_MODIFIABLE;
        } else if ((field = sale_validate_update(&entry->sale, fields, &message)) != NULL) {
            result = (engine_result_t){
                .status = ENGINE_INVALID, .invalid_field = field, .invalid_message = message};
        } else {
            sale_apply_update(&entry->sale, fields);
            sale = entry->sale;
            depends_on = entry->last_ledger_sequence = ledger_append_sale(engine->ledger, &sale);
            result = (engine_result_t){.status = ENGINE_OK, .sale = &sale};
        }
    }
    pthread_mutex_unlock(&engine->lock);
    answer_when_durable(loop, depends_on, &result, NULL, result.sale, cb, ctx);
}

static void embedded_delete_sale(engine_loop_t *base, const char *sku, uint64_t sale_id, engine_cb cb,
                                 void *ctx)
{
    embedded_loop_t *loop = to_loop(base);
    embedded_engine_t *engine = loop->engine;
    engine_result_t result = {.status = ENGINE_NOT_FOUND};
    uint64_t depends_on = 0;
    sale_entry_t *entry;

    /* Purchases of this sale decided before the delete are ahead of it in the ledger queue, so
       the delete removes them too; none can be decided after, since the lock is held. */
    pthread_mutex_lock(&engine->lock);
    if ((entry = find_sale(engine, sku)) != NULL && (sale_id == 0 || entry->sale.sale_id == sale_id)) {
        depends_on = ledger_append_delete(engine->ledger, entry->sale.sale_id);
        remove_sale(engine, sku);
        free_entry(entry);
        result.status = ENGINE_OK;
    }
    pthread_mutex_unlock(&engine->lock);
    answer_when_durable(loop, depends_on, &result, NULL, NULL, cb, ctx);
}

static void embedded_list_purchases(engine_loop_t *base, const char *sku, const char *after, size_t limit,
                                    engine_cb cb, void *ctx)
{
    embedded_engine_t *engine = to_loop(base)->engine;
    uint64_t durable = ledger_durable_sequence(engine->ledger);
    engine_result_t result = {.status = ENGINE_NOT_FOUND};
    sale_purchase_t *page = NULL;
    char next_cursor[SALE_PURCHASE_NO_MAX];
    sale_entry_t *entry;

    assert(limit >= 1 && limit <= ENGINE_PURCHASE_PAGE_MAX);
    pthread_mutex_lock(&engine->lock);
    if ((entry = find_sale(engine, sku)) != NULL) {
        /* purchases are stored in sequence order and sequence n sits at index n - 1 */
        int64_t start = after == NULL ? 0 : sale_parse_purchase_no(after, strlen(after), entry->sale.sale_id);
        size_t count = 0;
        if (start < 0 || (uint64_t)start > entry->buyers.count) {
            result = (engine_result_t){.status = ENGINE_INVALID,
                                       .invalid_field = "after",
                                       .invalid_message = "is not a cursor of this sale"};
        } else if ((page = malloc(limit * sizeof(*page))) == NULL) {
            result.status = ENGINE_UNAVAILABLE;
        } else {
            size_t index = (size_t)start;
            /* only durable purchases are listed; they form a prefix of the array */
            for (; index < entry->buyers.count && count < limit; ++index, ++count) {
                if (entry->buyers.entries[index].ledger_sequence > durable)
                    break;
                fill_purchase(&page[count], entry, &entry->buyers.entries[index]);
            }
            result = (engine_result_t){.status = ENGINE_OK, .purchases = page, .purchase_count = count};
            if (count == limit && index < entry->buyers.count &&
                entry->buyers.entries[index].ledger_sequence <= durable) {
                memcpy(next_cursor, page[count - 1].purchase_no, sizeof(next_cursor));
                result.next_cursor = next_cursor;
            }
        }
    }
    pthread_mutex_unlock(&engine->lock);
    cb(ctx, &result);
    free(page);
}

static void embedded_health(engine_loop_t *base, engine_cb cb, void *ctx)
{
    embedded_engine_t *engine = to_loop(base)->engine;
    ledger_stats_t stats;
    engine_check_t check = {
        .name = "ledger", .ok = ledger_is_healthy(engine->ledger), .required = true, .latency_ms = -1};

    ledger_get_stats(engine->ledger, &stats);
    if (stats.batches > 0)
        check.latency_ms = (double)stats.commit_us_total / (double)stats.batches / 1000.0;
    check.detail = check.ok ? "sqlite wal, group commit" : "the last commit failed; retrying";
    cb(ctx, &(engine_result_t){.status = ENGINE_OK, .checks = &check, .check_count = 1});
}

/* One Prometheus histogram: the buckets are counts per bound (not cumulative), "+Inf" last. */
static void append_histogram(strbuf_t *out, const char *name, const uint64_t *buckets,
                             const char *const *bounds, size_t bucket_count, double sum, uint64_t count)
{
    uint64_t cumulative = 0;

    strbuf_appendf(out, "# TYPE %s histogram\n", name);
    for (size_t i = 0; i < bucket_count; ++i) {
        cumulative += buckets[i];
        strbuf_appendf(out, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, bounds[i], cumulative);
    }
    strbuf_appendf(out, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name, sum, name, count);
}

static void embedded_metrics(engine_loop_t *base, engine_cb cb, void *ctx)
{
    static const char *const batch_bounds[] = {"1", "4", "16", "64", "256", "1024", "4096", "+Inf"};
    static const char *const commit_bounds[] = {"0.0001", "0.00025", "0.0005", "0.001",
                                                "0.0025", "0.005",   "0.01",   "+Inf"};
    embedded_loop_t *loop = to_loop(base);
    embedded_engine_t *engine = loop->engine;
    strbuf_t *text = &loop->metrics;
    ledger_stats_t ledger;
    audit_stats_t audit;

    static_assert(sizeof(batch_bounds) / sizeof(batch_bounds[0]) ==
                      sizeof(ledger.batch_size_buckets) / sizeof(ledger.batch_size_buckets[0]),
                  "a bound per bucket");
    static_assert(sizeof(commit_bounds) / sizeof(commit_bounds[0]) ==
                      sizeof(ledger.fsync_us_buckets) / sizeof(ledger.fsync_us_buckets[0]),
                  "a bound per bucket");
    ledger_get_stats(engine->ledger, &ledger);
    audit_get_stats(engine->audit, &audit);
    strbuf_reset(text);
    append_histogram(text, "flashsale_ledger_batch_size", ledger.batch_size_buckets, batch_bounds,
                     sizeof(batch_bounds) / sizeof(batch_bounds[0]), (double)ledger.records, ledger.batches);
    append_histogram(text, "flashsale_ledger_commit_seconds", ledger.fsync_us_buckets, commit_bounds,
                     sizeof(commit_bounds) / sizeof(commit_bounds[0]), (double)ledger.commit_us_total / 1e6,
                     ledger.batches);
    strbuf_appendf(
        text,
        "# TYPE flashsale_ledger_failures_total counter\nflashsale_ledger_failures_total %" PRIu64 "\n"
        "# TYPE flashsale_ledger_healthy gauge\nflashsale_ledger_healthy %d\n"
        "# TYPE flashsale_audit_written_total counter\nflashsale_audit_written_total %" PRIu64 "\n"
        "# TYPE flashsale_audit_dropped_total counter\nflashsale_audit_dropped_total %" PRIu64 "\n",
        ledger.failures, ledger_is_healthy(engine->ledger) ? 1 : 0, audit.written, audit.dropped);
    if (text->failed) {
        cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        return;
    }
    cb(ctx, &(engine_result_t){.status = ENGINE_OK, .text = text->data, .text_len = text->len});
}

static void embedded_watch(engine_loop_t *base, engine_watch_cb cb, void *ctx)
{
    embedded_loop_t *loop = to_loop(base);

    loop->watch_cb = cb;
    loop->watch_ctx = ctx;
    atomic_store(&loop->watching, cb != NULL);
    if (cb != NULL)
        send_watch(loop);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static engine_loop_t *embedded_attach(engine_t *base, h2o_loop_t *h2o_loop)
{
    embedded_engine_t *engine = (embedded_engine_t *)base;
    embedded_loop_t *loop = calloc(1, sizeof(*loop));

    if (loop == NULL)
        return NULL;
    loop->super.engine = base;
    loop->engine = engine;
    loop->h2o_loop = h2o_loop;
    h2o_linklist_init_anchor(&loop->waiters);
    h2o_timeout_init(h2o_loop, &loop->expiry_timeout, EXPIRY_CHECK_MS);
    loop->expiry_entry.cb = on_expiry_check;
    strbuf_init(&loop->metrics);
    if ((loop->accounts = account_ops_attach(engine->accounts, h2o_loop)) == NULL) {
        h2o_timeout_dispose(h2o_loop, &loop->expiry_timeout);
        strbuf_dispose(&loop->metrics);
        free(loop);
        return NULL;
    }
    loop->queue = h2o_multithread_create_queue(h2o_loop);
    h2o_multithread_register_receiver(loop->queue, &loop->receiver, on_wake);
    pthread_mutex_lock(&engine->loops_lock);
    loop->next = engine->loops;
    engine->loops = loop;
    pthread_mutex_unlock(&engine->loops_lock);
    return &loop->super;
}

static void embedded_detach(engine_loop_t *base)
{
    embedded_loop_t *loop = to_loop(base), **link;
    embedded_engine_t *engine = loop->engine;

    loop->watch_cb = NULL;
    atomic_store(&loop->watching, false);
    /* the ledger keeps committing until close, and the expiry check bounds the wait */
    while (!h2o_linklist_is_empty(&loop->waiters))
        h2o_evloop_run(loop->h2o_loop, 10);
    account_ops_detach(loop->accounts);
    h2o_timeout_unlink(&loop->expiry_entry);
    h2o_timeout_dispose(loop->h2o_loop, &loop->expiry_timeout);
    pthread_mutex_lock(&engine->loops_lock);
    for (link = &engine->loops; *link != loop; link = &(*link)->next)
        ;
    *link = loop->next;
    pthread_mutex_unlock(&engine->loops_lock);
    /* No message is sent from here on; one already sent is in the pipe and is taken by the loop
       (h2o asserts that a receiver goes with no message queued). */
    while (atomic_load(&loop->wake_pending) || atomic_load(&loop->watch_pending))
        h2o_evloop_run(loop->h2o_loop, 10);
    h2o_multithread_unregister_receiver(loop->queue, &loop->receiver);
    h2o_multithread_destroy_queue(loop->queue);
    /* h2o 2.2.5 frees the queue itself only in its libuv build; the evloop build leaves it to us. */
    free(loop->queue);
    strbuf_dispose(&loop->metrics);
    free(loop);
}

static void embedded_close(engine_t *base)
{
    embedded_engine_t *engine = (embedded_engine_t *)base;

    assert(engine->loops == NULL);
    ledger_close(engine->ledger);
    audit_close(engine->audit);
    accounts_close(engine->accounts);
    for (size_t i = 0; i < engine->slot_count; ++i)
        if (engine->slots[i] != NULL)
            free_entry(engine->slots[i]);
    free(engine->slots);
    pthread_mutex_destroy(&engine->lock);
    pthread_mutex_destroy(&engine->loops_lock);
    free(engine);
}

/* Accounts are read and written on the accounts thread (embedded/accounts.h), never on the loop. */
static void embedded_create_account(engine_loop_t *base, const account_t *account, engine_cb cb, void *ctx)
{
    account_ops_create(to_loop(base)->accounts, account, cb, ctx);
}

static void embedded_find_account(engine_loop_t *base, const char *login, engine_cb cb, void *ctx)
{
    account_ops_find(to_loop(base)->accounts, login, cb, ctx);
}

static const engine_ops_t embedded_ops = {
    .attach = embedded_attach,
    .detach = embedded_detach,
    .close = embedded_close,
    .purchase = embedded_purchase,
    .get_purchase = embedded_get_purchase,
    .get_sale = embedded_get_sale,
    .list_sales = embedded_list_sales,
    .create_sale = embedded_create_sale,
    .update_sale = embedded_update_sale,
    .delete_sale = embedded_delete_sale,
    .list_purchases = embedded_list_purchases,
    .health = embedded_health,
    .metrics = embedded_metrics,
    .watch = embedded_watch,
    .create_account = embedded_create_account,
    .find_account = embedded_find_account,
};

static int load_sale(void *arg, const sale_t *sale)
{
    sale_entry_t *entry = new_entry(sale);
    if (entry == NULL || insert_sale(arg, entry) != 0) {
        free(entry);
        return -1;
    }
    return 0;
}

static int load_purchase(void *arg, uint64_t sale_id, uint64_t sequence, const sale_purchase_t *purchase)
{
    sale_entry_t *entry = find_sale(arg, purchase->sku);

    /* sequences are dense and loaded in order, so the array index stays sequence - 1 */
    if (entry == NULL || entry->sale.sale_id != sale_id || sequence != entry->buyers.count + 1)
        return -1;
    return buyer_index_add(&entry->buyers, purchase->user_id, strlen(purchase->user_id),
                           purchase->purchased_ms, sequence, 0) != NULL
               ? 0
               : -1;
}

engine_t *engine_embedded_open(const char *data_dir, char *err, size_t err_size)
{
    embedded_engine_t *engine = calloc(1, sizeof(*engine));

    if (engine == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    engine->super.ops = &embedded_ops;
    pthread_mutex_init(&engine->lock, NULL);
    pthread_mutex_init(&engine->loops_lock, NULL);
    if (grow_table(engine) != 0 || ledger_open(data_dir, &engine->ledger, err, err_size) != 0)
        goto Error;
    if (ledger_load(engine->ledger, &(ledger_loader_t){engine, load_sale, load_purchase}) != 0) {
        snprintf(err, err_size, "%s/flashsale.db holds a purchase that fits no sale; refusing to start",
                 data_dir);
        goto Error;
    }
    engine->next_sale_id = ledger_next_sale_id(engine->ledger);
    if (audit_open(data_dir, &engine->audit, err, err_size) != 0 ||
        accounts_open(data_dir, &engine->accounts, err, err_size) != 0)
        goto Error;
    if (ledger_start(engine->ledger, on_durable, engine) != 0) {
        snprintf(err, err_size, "cannot start the ledger writer thread");
        goto Error;
    }
    return &engine->super;

Error:
    if (engine->accounts != NULL)
        accounts_close(engine->accounts);
    if (engine->audit != NULL)
        audit_close(engine->audit);
    if (engine->ledger != NULL)
        ledger_close(engine->ledger);
    for (size_t i = 0; i < engine->slot_count; ++i)
        if (engine->slots[i] != NULL)
            free_entry(engine->slots[i]);
    free(engine->slots);
    free(engine);
    return NULL;
}
