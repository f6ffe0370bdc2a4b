/*
 * pg_schema: the PostgreSQL schema and its versioned migrations.
 *
 * PostgreSQL is the source of truth for sales and the durable home of orders. Migrations are
 * numbered and applied in order inside one transaction each, under an advisory lock, so that
 * several servers and workers starting at once migrate exactly once. Table and column names are
 * those of the embedded SQLite ledger, so tests and tools query both modes alike:
 *   sales(sale_id, sku, product_name, initial_stock, start_ms, end_ms, created_ms)
 *   purchases(purchase_no, sale_id, sequence, sku, user_id, purchased_ms), UNIQUE(sku, user_id)
 *   audit_events(id, at_ms, sku, user_id, outcome, purchase_no)
 */
#ifndef FLASHSALE_PG_SCHEMA_H
#define FLASHSALE_PG_SCHEMA_H

#include <libpq-fe.h>
#include <stddef.h>

/* Brings the schema to the newest version; returns 0, or -1 with one human line in err. */
int pg_schema_migrate(PGconn *conn, char *err, size_t err_size);

#endif
