/*
 * pg_schema: the PostgreSQL schema and its versioned migrations.
 *
 * PostgreSQL is the source of truth for sales and the durable home of orders. Migrations are
 * numbered and applied in order inside one transaction each, under an advisory lock, so that
 * several servers and workers starting at once migrate exactly once. Table and column names are
 * those of the embedded SQLite ledger, so tests and tools query both modes alike:
 *   sales(sale_id, sku, product_name, initial_stock, start_ms, end_ms, created_ms,
 *         sequence_generation)
 *   purchases(purchase_no, sale_id, sequence, sku, user_id, purchased_ms),
 *     PRIMARY KEY (sale_id, sequence), UNIQUE (sku, user_id)
 *   audit_events(id, at_ms, sku, user_id, outcome, purchase_no)
 *   redis_data_losses(id, detected_ms, detail, acknowledged_ms)
 *   accounts(account_id, username, email, password_hash, full_name, role, created_ms), unique
 *     in any ASCII case by username and by email
 * purchases has no foreign key to sales, for the worker's speed: a sale is deleted only through
 * flashsale_delete_sale(sku[, sale_id]), which with the worker's lock on the sale rows keeps the
 * guarantee the foreign key gave (no purchase outlives its sale); see migration 2 in pg_schema.c.
 * sequence_generation and redis_data_losses are migration 3's, accounts migration 4's.
 */
#ifndef FLASHSALE_PG_SCHEMA_H
#define FLASHSALE_PG_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

/* The newest schema version: the number of migrations. */
#define PG_SCHEMA_VERSION 4

/* Brings the schema to the newest version; returns 0, or -1 with one human line in err. */
int pg_schema_migrate(PGconn *conn, char *err, size_t err_size);

/* Brings the schema to `version` (1..PG_SCHEMA_VERSION) and no further, for the tests of a
 * migration from an older schema; otherwise as pg_schema_migrate. */
int pg_schema_migrate_to(PGconn *conn, int version, char *err, size_t err_size);

#endif
