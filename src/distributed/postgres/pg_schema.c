#include "distributed/postgres/pg_schema.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every process that migrates takes this transaction-scoped advisory lock first, so concurrent
 * starts queue up behind each other: the first applies a migration, the others then see its
 * version recorded and skip it. The number is arbitrary but fixed ("flashmig" in ASCII).
 */
#define PG_SCHEMA_LOCK_KEY "7380166384349014375"

/*
 * The migrations, oldest first; migration i brings the schema to version i + 1. Never edit one
 * that has shipped: append a new one, because databases in the field already recorded the old
 * version and will not run it again.
 */
static const char *const migrations[] = {
    /* 1: the initial schema. sale_id comes from an identity sequence, which never hands out a
     * value twice even after a delete or a rolled-back insert, so a purchaseNo (which embeds the
     * sale_id) is never reused. Purchases of a deleted sale go with it; the worker drops late
     * orders whose sale no longer exists. UNIQUE(sale_id, sequence) doubles as the index that
     * pages a sale's purchases in order. */
    "CREATE TABLE sales ("
    "  sale_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  sku TEXT NOT NULL UNIQUE,"
    "  product_name TEXT NOT NULL,"
    "  initial_stock BIGINT NOT NULL,"
    "  start_ms BIGINT NOT NULL,"
    "  end_ms BIGINT NOT NULL,"
    "  created_ms BIGINT NOT NULL);"
    "CREATE TABLE purchases ("
    "  purchase_no TEXT PRIMARY KEY,"
    "  sale_id BIGINT NOT NULL REFERENCES sales (sale_id) ON DELETE CASCADE,"
    "  sequence BIGINT NOT NULL,"
    "  sku TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  purchased_ms BIGINT NOT NULL,"
    "  UNIQUE (sku, user_id),"
    "  UNIQUE (sale_id, sequence));"
    "CREATE TABLE audit_events ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  at_ms BIGINT NOT NULL,"
    "  sku TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  purchase_no TEXT);",
    /* 2: cheaper inserts for the worker. Inserting 90,000 rows in batches of 300 as the worker
     * does cost 12.3 µs per row with schema 1, 9.8 without the foreign key to sales and 6.9 also
     * without the primary key on purchase_no. Both were redundant or replaceable:
     * - purchase_no is FS<sale_id>-<sequence>, so UNIQUE (sale_id, sequence) implies its
     *   uniqueness; that index becomes the primary key. PostgreSQL cannot promote an index that
     *   already backs a constraint, so it is built again, once, here, with purchases locked
     *   (0.9 s for a million rows).
     * - The foreign key checked every inserted row under a FOR KEY SHARE lock on its sale row, so
     *   that no purchase survived a concurrent delete of its sale, and the cascade deleted the
     *   purchases. Now the worker's insert takes that lock once per batch on the batch's sales
     *   (worker_store.c), and flashsale_delete_sale deletes the sale first and its purchases in a
     *   later statement. The purchases statement must be a later one: a delete that waited for
     *   the worker's lock would, in the same statement, still read purchases through its old
     *   snapshot and miss the rows the worker committed meanwhile; a later statement of a
     *   VOLATILE function gets a new snapshot (READ COMMITTED) and sees them. A worker arriving
     *   after the sale row is deleted (or while the delete is uncommitted, waiting for it) finds
     *   no sale row to lock and drops its orders. Returns the deleted sale_id, or NULL. */
    "ALTER TABLE purchases"
    "  DROP CONSTRAINT purchases_sale_id_fkey,"
    "  DROP CONSTRAINT purchases_pkey,"
    "  DROP CONSTRAINT purchases_sale_id_sequence_key,"
    "  ADD CONSTRAINT purchases_pkey PRIMARY KEY (sale_id, sequence);"
    "CREATE FUNCTION flashsale_delete_sale(target_sku TEXT) RETURNS BIGINT"
    "  LANGUAGE plpgsql VOLATILE AS $$"
    "  DECLARE"
    "    deleted_sale_id BIGINT;"
    "  BEGIN"
    "    DELETE FROM sales WHERE sku = target_sku RETURNING sale_id INTO deleted_sale_id;"
    "    DELETE FROM purchases WHERE sale_id = deleted_sale_id;"
    "    RETURN deleted_sale_id;"
    "  END $$;",
    /* 3: retries and Redis data loss.
     * - flashsale_delete_sale(sku, sale_id) deletes the sku's sale only if it is that sale (0:
     *   whichever it is), so that a repeated delete cannot remove a newer sale of the sku.
     * - sales.sequence_generation: the generation of the sale's purchase numbers. A sequence of
     *   generation g lies in [g * 10^9 + 1, (g + 1) * 10^9] (no generation can use more: a sale
     *   sells at most its initial stock, at most 10^9, per rebuild). When Redis has lost a sale's
     *   record of the numbers it issued (its stream is gone, or it is behind this table), the
     *   rebuild records a new generation here first, then numbers continue in it, so that a
     *   number issued before the loss, and lost with it, is never issued again (reconcile.c).
     * - redis_data_losses: every loss a reconciler detected, until an operator acknowledges it
     *   (`flashsale data-loss --acknowledge`); /health is degraded meanwhile, on every instance. */
    "CREATE FUNCTION flashsale_delete_sale(target_sku TEXT, target_sale_id BIGINT) RETURNS BIGINT"
    "  LANGUAGE plpgsql VOLATILE AS $$"
    "  DECLARE"
    "    deleted_sale_id BIGINT;"
    "  BEGIN"
    "    DELETE FROM sales WHERE sku = target_sku AND (target_sale_id = 0 OR sale_id = target_sale_id)"
    "      RETURNING sale_id INTO deleted_sale_id;"
    "    DELETE FROM purchases WHERE sale_id = deleted_sale_id;"
    "    RETURN deleted_sale_id;"
    "  END $$;"
    "ALTER TABLE sales ADD COLUMN sequence_generation BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE redis_data_losses ("
    "  id BIGSERIAL PRIMARY KEY,"
    "  detected_ms BIGINT NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  acknowledged_ms BIGINT);",
    /* 4: built-in accounts (POST /api/v1/auth/register), the columns of the embedded accounts.db.
     * Usernames and emails are unique in any ASCII case: lower() under the "C" collation folds
     * A-Z only, as SQLite's NOCASE does, so both modes agree on who is a duplicate; the lookups
     * of a login use the same expressions, and so these indexes. */
    "CREATE TABLE accounts ("
    "  account_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  username TEXT NOT NULL,"
    "  email TEXT NOT NULL,"
    "  password_hash TEXT NOT NULL,"
    "  full_name TEXT NOT NULL,"
    "  role TEXT NOT NULL DEFAULT 'buyer',"
    "  created_ms BIGINT NOT NULL);"
    "CREATE UNIQUE INDEX accounts_username_key ON accounts (lower(username COLLATE \"C\"));"
    "CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email COLLATE \"C\"));",
};

static_assert(sizeof(migrations) / sizeof(migrations[0]) == PG_SCHEMA_VERSION,
              "PG_SCHEMA_VERSION counts the migrations");

/* Runs one command that returns no rows; on failure writes what failed and why into err. */
static int exec_command(PGconn *conn, const char *sql, const char *what, char *err, size_t err_size)
{
    PGresult *result = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "postgres: %s: %s", what, PQerrorMessage(conn));
        /* libpq's messages end in a newline; the contract is one line. */
        err[strcspn(err, "\n")] = '\0';
        rc = -1;
    }
    PQclear(result);
    return rc;
}

/* Sets *applied to whether the given version is recorded; runs inside the locked transaction. */
static int version_is_applied(PGconn *conn, int version, int *applied, char *err, size_t err_size)
{
    char text[16];
    snprintf(text, sizeof(text), "%d", version);
    const char *params[] = {text};
    PGresult *result = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1,
                                    NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "postgres: reading schema_migrations: %s", PQerrorMessage(conn));
        err[strcspn(err, "\n")] = '\0';
        rc = -1;
    } else {
        *applied = PQntuples(result) > 0;
    }
    PQclear(result);
    return rc;
}

/* The body of one migration's transaction: lock, then apply unless already recorded. */
static int migrate_locked(PGconn *conn, int version, char *err, size_t err_size)
{
    /* schema_migrations is created under the lock too: CREATE ... IF NOT EXISTS alone races
     * against a concurrent creator and can fail on the catalog's unique index. */
    /* The quiet level keeps "already exists, skipping" notices out of every start's log. */
    if (exec_command(conn, "SET LOCAL client_min_messages = warning", "quieting notices", err, err_size) !=
            0 ||
        exec_command(conn, "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK_KEY ")", "advisory lock", err,
                     err_size) != 0 ||
        exec_command(conn,
                     "CREATE TABLE IF NOT EXISTS schema_migrations ("
                     "  version INTEGER PRIMARY KEY,"
                     "  applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                     "creating schema_migrations", err, err_size) != 0)
        return -1;
    int applied = 0;
    if (version_is_applied(conn, version, &applied, err, err_size) != 0)
        return -1;
    if (applied)
        return 0;
    char what[32];
    snprintf(what, sizeof(what), "migration %d", version);
    if (exec_command(conn, migrations[version - 1], what, err, err_size) != 0)
        return -1;
    char record[64];
    snprintf(record, sizeof(record), "INSERT INTO schema_migrations (version) VALUES (%d)", version);
    return exec_command(conn, record, "recording the migration", err, err_size);
}

/* Applies one migration in its own transaction, so a failure leaves the previous version intact. */
static int apply_migration(PGconn *conn, int version, char *err, size_t err_size)
{
    if (exec_command(conn, "BEGIN", "begin", err, err_size) != 0)
        return -1;
    if (migrate_locked(conn, version, err, err_size) != 0 ||
        exec_command(conn, "COMMIT", "commit", err, err_size) != 0) {
        PQclear(PQexec(conn, "ROLLBACK"));
        return -1;
    }
    return 0;
}

int pg_schema_migrate(PGconn *conn, char *err, size_t err_size)
{
    return pg_schema_migrate_to(conn, PG_SCHEMA_VERSION, err, err_size);
}

int pg_schema_migrate_to(PGconn *conn, int version, char *err, size_t err_size)
{
    assert(version >= 1 && version <= PG_SCHEMA_VERSION);
    for (int applied = 1; applied <= version; applied++) {
        if (apply_migration(conn, applied, err, err_size) != 0)
            return -1;
    }
    return 0;
}
