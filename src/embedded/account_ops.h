/*
 * account_ops: the embedded engine's create_account and find_account for one loop thread. Each
 * request goes to the accounts thread (embedded/accounts.h) and its answer comes back to the loop
 * that asked, through an h2o multithread queue of this loop's own, so the engine callback runs on
 * the loop's thread as engine.h promises.
 */
#ifndef FLASHSALE_ACCOUNT_OPS_H
#define FLASHSALE_ACCOUNT_OPS_H

#include <h2o.h>

#include "core/engine.h"
#include "embedded/accounts.h"

typedef struct account_ops account_ops_t;

/* On the loop's thread; NULL when out of memory. */
account_ops_t *account_ops_attach(accounts_t *accounts, h2o_loop_t *loop);
/* On the same thread: runs the loop until every request it made has been answered, then frees. */
void account_ops_detach(account_ops_t *ops);

void account_ops_create(account_ops_t *ops, const account_t *account, engine_cb cb, void *ctx);
void account_ops_find(account_ops_t *ops, const char *login, engine_cb cb, void *ctx);

#endif
