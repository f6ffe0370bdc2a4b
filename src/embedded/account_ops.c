#include "embedded/account_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct account_ops {
    accounts_t *accounts;
    h2o_loop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    size_t pending; /* requests not answered yet; the loop's thread only */
};

/* One request on its way to the accounts thread and back; the request must come first. */
typedef struct {
    accounts_request_t request;
    h2o_multithread_message_t message;
    account_ops_t *ops;
    engine_cb cb;
    void *ctx;
} op_t;

/* On the accounts thread (or the loop's, for BUSY): hand the answer to the loop. */
static void on_done(accounts_request_t *request)
{
    op_t *op = (op_t *)request;
    h2o_multithread_send_message(&op->ops->receiver, &op->message);
}

static void answer(op_t *op)
{
    engine_result_t result = {.status = ENGINE_UNAVAILABLE};

    switch (op->request.status) {
    case ACCOUNTS_OK:
        result = (engine_result_t){.status = ENGINE_OK, .account = &op->request.account};
        break;
    case ACCOUNTS_NOT_FOUND:
        result.status = ENGINE_NOT_FOUND;
        break;
    case ACCOUNTS_USERNAME_TAKEN:
        result = (engine_result_t){.status = ENGINE_CONFLICT, .invalid_field = "username"};
        break;
    case ACCOUNTS_EMAIL_TAKEN:
        result = (engine_result_t){.status = ENGINE_CONFLICT, .invalid_field = "email"};
        break;
    case ACCOUNTS_BUSY:
    case ACCOUNTS_FAILED:
        break;
    }
    op->cb(op->ctx, &result);
}

static void on_answers(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    account_ops_t *ops = H2O_STRUCT_FROM_MEMBER(account_ops_t, receiver, receiver);

    while (!h2o_linklist_is_empty(messages)) {
        op_t *op = H2O_STRUCT_FROM_MEMBER(op_t, message.link, messages->next);
        h2o_linklist_unlink(&op->message.link);
        --ops->pending;
        answer(op);
        /* the account holds a password hash: not left in freed memory */
        explicit_bzero(op, sizeof(*op));
        free(op);
    }
}

account_ops_t *account_ops_attach(accounts_t *accounts, h2o_loop_t *loop)
{
    account_ops_t *ops = calloc(1, sizeof(*ops));

    if (ops == NULL)
        return NULL;
    ops->accounts = accounts;
    ops->loop = loop;
    ops->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(ops->queue, &ops->receiver, on_answers);
    return ops;
}

void account_ops_detach(account_ops_t *ops)
{
    while (ops->pending > 0)
        h2o_evloop_run(ops->loop, 10);
    h2o_multithread_unregister_receiver(ops->queue, &ops->receiver);
    h2o_multithread_destroy_queue(ops->queue);
    /* h2o 2.2.5 frees the queue itself only in its libuv build; the evloop build leaves it to us. */
    free(ops->queue);
    free(ops);
}

static void submit(account_ops_t *ops, op_t *op, engine_cb cb, void *ctx)
{
    op->ops = ops;
    op->cb = cb;
    op->ctx = ctx;
    op->request.done = on_done;
    ++ops->pending;
    accounts_submit(ops->accounts, &op->request);
}

void account_ops_create(account_ops_t *ops, const account_t *account, engine_cb cb, void *ctx)
{
    op_t *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        return;
    }
    op->request.create = true;
    op->request.account = *account;
    submit(ops, op, cb, ctx);
}

void account_ops_find(account_ops_t *ops, const char *login, engine_cb cb, void *ctx)
{
    op_t *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        cb(ctx, &(engine_result_t){.status = ENGINE_UNAVAILABLE});
        return;
    }
    snprintf(op->request.login, sizeof(op->request.login), "%s", login);
    submit(ops, op, cb, ctx);
}
