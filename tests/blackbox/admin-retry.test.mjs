// Admin writes are safe to retry (docs/api.md, "Retrying after an unknown outcome"), in both modes:
// a repeated create answers 201 with the sale as it is now, and 409 only when the sale differs; an
// update that changes nothing answers 200 with the sale in any state; a repeated delete answers 404,
// and one that names its sale (?saleId=) never deletes a newer sale of the sku.
//
// Distributed mode also does it for real: a create in flight while Redis hangs (SIGSTOP) is
// answered 503 with the sale already in PostgreSQL; after Redis comes back — resumed, or killed and
// restarted from its append-only file — the same create, repeated, answers 201 with that sale.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MODE_NAME, assertError, assertOk, isoIn, startServer, uniqueSku, uniqueUser } from './lib/harness.mjs';
import { startInstance, withStore } from './lib/cluster.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function saleBody(overrides = {}) {
  return { sku: uniqueSku('RT'), productName: 'Retried', initialStock: 10, startTime: isoIn(-60_000), endTime: isoIn(3_600_000), ...overrides };
}

const createProduct = (target, body) => target.api('POST', '/api/v1/products', { admin: true, body });

test('a repeated create answers 201 with the sale as it is now; 409 only when a field differs', async () => {
  const body = saleBody();
  const first = await createProduct(server, body);
  assert.equal(first.status, 201, first.text);
  assertOk(await server.purchase(body.sku, uniqueUser()));

  const again = await createProduct(server, body);
  assert.equal(again.status, 201, again.text);
  assert.equal(again.json.data.saleId, first.json.data.saleId);
  assert.equal(again.json.data.createdAt, first.json.data.createdAt);
  assert.equal(again.json.data.currentStock, 9);
  assert.equal(again.json.data.totalPurchases, 1);
  // The same instants written another way are the same fields.
  const offset = await createProduct(server, { ...body, startTime: body.startTime.replace('Z', '+00:00') });
  assert.equal(offset.status, 201, offset.text);

  for (const differing of [{ productName: 'Other' }, { initialStock: 11 }, { startTime: isoIn(-120_000) }, { endTime: isoIn(7_200_000) }]) {
    assertError(await createProduct(server, { ...body, ...differing }), 409, 'CONFLICT', { field: 'sku' });
  }
  const rows = await server.dbQuery(`SELECT COUNT(*) AS n FROM sales WHERE sku = '${body.sku}'`);
  assert.equal(Number(rows[0].n), 1);
});

test('an update that changes nothing answers 200 with the sale in any state; a change is refused once the sale started', async () => {
  const body = saleBody({ startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  assert.equal((await createProduct(server, body)).status, 201);
  const url = `/api/v1/products/${body.sku}`;
  const start = { startTime: isoIn(-1000), productName: 'Started' };
  const applied = await server.api('PUT', url, { admin: true, body: start });
  assert.equal(applied.status, 200, applied.text);
  assert.equal(applied.json.data.state, 'ACTIVE');
  assertOk(await server.purchase(body.sku, uniqueUser()));

  // The retry of the update that was applied: the sale has started since, and it still answers.
  const repeated = await server.api('PUT', url, { admin: true, body: start });
  assert.equal(repeated.status, 200, repeated.text);
  assert.equal(repeated.json.success, true);
  assert.equal(repeated.json.data.state, 'ACTIVE');
  assert.equal(repeated.json.data.productName, 'Started');
  assert.equal(repeated.json.data.currentStock, 9);
  assertError(await server.api('PUT', url, { admin: true, body: { productName: 'Changed' } }), 200, 'SALE_NOT_MODIFIABLE');
  assert.equal((await server.api('GET', url, { admin: true })).json.data.productName, 'Started');
});

test('a repeated delete answers 404; ?saleId= deletes only that sale, never a newer one of the sku', async () => {
  const body = saleBody();
  const first = (await createProduct(server, body)).json.data;
  assert.equal(typeof first.saleId, 'number');
  const url = `/api/v1/products/${body.sku}`;
  assertError(await server.api('DELETE', `${url}?saleId=${first.saleId + 1000}`, { admin: true }), 404, 'NOT_FOUND');
  assert.equal((await server.api('GET', url, { admin: true })).status, 200);
  const deleted = await server.api('DELETE', `${url}?saleId=${first.saleId}`, { admin: true });
  assert.equal(deleted.status, 200, deleted.text);
  assertError(await server.api('DELETE', `${url}?saleId=${first.saleId}`, { admin: true }), 404, 'NOT_FOUND');
  assertError(await server.api('DELETE', url, { admin: true }), 404, 'NOT_FOUND');

  // Created again in between: the first delete's retry leaves the newer sale alone.
  const newer = (await createProduct(server, body)).json.data;
  assert.ok(newer.saleId > first.saleId);
  assertError(await server.api('DELETE', `${url}?saleId=${first.saleId}`, { admin: true }), 404, 'NOT_FOUND');
  assert.equal((await server.api('GET', url, { admin: true })).json.data.saleId, newer.saleId);
  for (const bad of ['abc', '0', '-1', '1.5', '01', '99999999999999999999']) {
    assertError(await server.api('DELETE', `${url}?saleId=${bad}`, { admin: true }), 400, 'VALIDATION_ERROR', { field: 'saleId' });
  }
  assert.equal((await server.api('DELETE', `${url}?saleId=${newer.saleId}`, { admin: true })).status, 200);
});

const skipDistributed = MODE_NAME !== 'distributed' && 'distributed mode only (FLASHSALE_MODE=distributed)';

test('a create in flight while Redis hangs answers 503; after Redis is back (resumed, or killed and restarted) the retry answers 201 with that sale', { skip: skipDistributed }, async (t) => {
  await withStore({}, async (store) => {
    const instance = await startInstance(store);
    for (const [how, bringBack] of [
      ['resumed', () => store.redisSignal('SIGCONT')],
      ['killed and restarted', async () => {
        await store.redisService('kill');
        await store.redisSignal('SIGCONT').catch(() => {});
        await store.redisService('start');
      }],
    ]) {
      await t.test(how, async () => {
        const body = saleBody();
        // Connections warmed up, then Redis hangs with the create on its way.
        assert.equal((await instance.api('GET', '/health')).status, 200);
        await store.redisSignal('SIGSTOP');
        const unknown = await instance.api('POST', '/api/v1/products', { admin: true, body, timeoutMs: 15_000 });
        assertError(unknown, 503, 'SERVICE_UNAVAILABLE');
        const inPostgres = await store.query(`SELECT sale_id FROM sales WHERE sku = '${body.sku}'`);
        assert.equal(inPostgres.length, 1, 'the create reached PostgreSQL before Redis hung');
        await bringBack();

        // Retried until answered (a 503 while the reconciler loads the sale into Redis), never 409.
        let answer;
        const deadline = Date.now() + 20_000;
        for (;;) {
          answer = await instance.api('POST', '/api/v1/products', { admin: true, body });
          if (answer.status !== 503 || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(answer.status, 201, answer.text);
        assert.equal(answer.json.data.saleId, Number(inPostgres[0].sale_id));
        assert.equal(answer.json.data.currentStock, body.initialStock);
        assert.equal((await store.query(`SELECT sale_id FROM sales WHERE sku = '${body.sku}'`)).length, 1);
        assert.equal((await instance.purchase(body.sku, uniqueUser())).json?.success, true, 'the sale sells');
      });
    }
    await instance.stop();
  });
});
