// Distributed mode only: several server instances, a separate worker, and Redis or PostgreSQL
// failing under load. Every test checks afterwards, in PostgreSQL and Redis, that each
// acknowledged purchase is stored exactly once with the purchaseNo its buyer was given.
//
// The stores, instances and checks are lib/cluster.mjs'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODE_NAME, storm, uniqueUser, waitFor, assertError } from './lib/harness.mjs';
import { UNPERSISTED_SCRIPT } from './lib/mode-distributed.mjs';
import { assertPersisted, newLedger, record, startInstance as startServer, startWorker, tally, withStore } from './lib/cluster.mjs';

const skip = MODE_NAME !== 'distributed' && 'distributed mode only (FLASHSALE_MODE=distributed)';

// The bound for an answer while Redis is down.
const REDIS_DOWN_ANSWER_MS = 5_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('two instances on one Redis + PostgreSQL: 2,000 users split across both against stock 100 buy exactly 100', { skip }, async () => {
  await withStore({}, async (store) => {
    const [a, b] = await Promise.all([startServer(store), startServer(store)]);
    const STOCK = 100;
    const sku = await a.createSale(STOCK);
    const users = Array.from({ length: 2000 }, () => uniqueUser('two'));
    const ledger = newLedger();
    const results = await storm(users.map((u, i) => [u, i % 2 === 0 ? a : b]), async ([u, server]) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results), { SUCCESS: STOCK, '200 SOLD_OUT': users.length - STOCK });
    assert.equal(new Set(ledger.acknowledged.values()).size, STOCK, 'a purchaseNo was given twice');

    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, STOCK);
    for (const server of [a, b]) {
      const product = await server.product(sku);
      assert.equal(product.currentStock, 0);
      assert.equal(product.totalPurchases, STOCK);
    }
    await Promise.all([a.stop(), b.stop()]);
  });
});

test('kill -9 of the worker mid-storm, then a restart: every acknowledged order reaches PostgreSQL exactly once', { skip }, async (t) => {
  await withStore({}, async (store) => {
    const server = await startServer(store, { withWorker: false });
    let worker = startWorker(store);
    const STOCK = 1_000_000;
    const sku = await server.createSale(STOCK);
    const stream = `flashsale:{${sku}}:orders`;
    const pending = async () => Number((await store.redisCli('XPENDING', stream, 'persisters')).split('\n')[0].trim());
    const ledger = newLedger();

    // Waves of 1,000 buyers until the worker was killed while holding a batch it had read but
    // not acknowledged (after 300 answers at least), then one more wave with no worker at all.
    let killed = null;
    let storming = true;
    const killer = (async () => {
      while (storming) {
        if (ledger.acknowledged.size >= 300 && (await pending()) > 0) {
          const exit = await worker.kill('SIGKILL');
          // It may have acknowledged its batch between the look and the kill: then again.
          if ((await pending()) > 0) {
            killed = exit;
            return;
          }
          worker = startWorker(store);
        }
        await sleep(1);
      }
    })();
    for (let wave = 0; wave < 20 && !killed; wave++) {
      const users = Array.from({ length: 1000 }, () => uniqueUser(`wk${wave}`));
      const results = await storm(users, async (u) => {
        const res = await server.purchase(sku, u);
        record(ledger, u, res);
        return res;
      });
      assert.deepEqual(tally(results), { SUCCESS: users.length });
    }
    storming = false;
    await killer;
    assert.deepEqual(killed, { code: null, signal: 'SIGKILL' }, `the worker was never killed holding a batch\n${worker.output}`);
    const lastWave = Array.from({ length: 1000 }, () => uniqueUser('wk-after'));
    const results = await storm(lastWave, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results), { SUCCESS: lastWave.length });
    const orphaned = await pending();
    t.diagnostic(`entries left pending by the killed worker: ${orphaned}; rows in PostgreSQL at the end of the storm: ${(await store.purchasesOf(sku)).length}`);

    worker = startWorker(store);
    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, ledger.acknowledged.size);
    assert.equal(await pending(), 0);
    const product = await server.product(sku);
    assert.equal(product.totalPurchases, ledger.acknowledged.size);
    await worker.kill('SIGTERM');
    await server.stop();
  });
});

test('PostgreSQL stopped during a storm and started again: purchases keep succeeding, every acknowledged order reaches it', { skip }, async () => {
  await withStore({ privatePostgres: true }, async (store) => {
    const server = await startServer(store);
    const STOCK = 100_000;
    const sku = await server.createSale(STOCK);
    const ledger = newLedger();

    // First wave: PostgreSQL is stopped once 300 answers came back.
    const wave1 = Array.from({ length: 1500 }, () => uniqueUser('pg1'));
    let stopping = null;
    const results1 = await storm(wave1, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      if (ledger.acknowledged.size >= 300 && !stopping) stopping = store.postgresService('stop');
      return res;
    });
    await stopping;
    assert.deepEqual(tally(results1), { SUCCESS: wave1.length });

    // Second wave: entirely while PostgreSQL is down.
    const wave2 = Array.from({ length: 1000 }, () => uniqueUser('pg2'));
    const results2 = await storm(wave2, async (u) => {
      const res = await server.purchase(sku, u, { timeoutMs: 10_000 });
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results2), { SUCCESS: wave2.length }, 'purchases while PostgreSQL is down');
    const waiting = Number((await store.redisCli('EVAL', UNPERSISTED_SCRIPT, '0')).trim());
    assert.ok(waiting >= wave2.length, `only ${waiting} orders wait in the streams while PostgreSQL is down`);

    await store.postgresService('start');
    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, wave1.length + wave2.length);
    const product = await server.product(sku);
    assert.equal(product.totalPurchases, rows.length);
    assert.equal(product.currentStock, STOCK - rows.length);
    await server.stop();
  });
});

test('redis-server kill -9 mid-storm: 503 within 5 s while down, then from its AOF nothing acknowledged is lost and stock + sold == initial', { skip }, async (t) => {
  await withStore({}, async (store) => {
    const server = await startServer(store);
    const STOCK = 100_000;
    const sku = await server.createSale(STOCK);
    const ledger = newLedger();

    const users = Array.from({ length: 1500 }, () => uniqueUser('rk'));
    let killing = null;
    const results = await storm(users, async (u) => {
      const res = await server.purchase(sku, u, { timeoutMs: 15_000 });
      record(ledger, u, res);
      if (ledger.acknowledged.size >= 300 && !killing) killing = store.redisService('kill');
      return res;
    });
    await killing;
    for (const r of results) {
      if (r.json?.success) continue;
      assertError(r, 503, 'SERVICE_UNAVAILABLE');
    }

    // Redis is down: every answer is a prompt 503.
    for (let i = 0; i < 3; i++) {
      const user = uniqueUser('down');
      const started = Date.now();
      const res = await server.purchase(sku, user, { timeoutMs: 15_000 });
      const elapsed = Date.now() - started;
      record(ledger, user, res);
      assertError(res, 503, 'SERVICE_UNAVAILABLE');
      assert.ok(elapsed < REDIS_DOWN_ANSWER_MS, `a purchase with Redis down took ${elapsed} ms`);
    }

    await store.redisService('start');
    // The server reconnects by itself.
    await waitFor(async () => {
      const user = uniqueUser('back');
      const res = await server.purchase(sku, user, { timeoutMs: 15_000 });
      record(ledger, user, res);
      return res.json?.success === true;
    }, { timeoutMs: 15_000, intervalMs: 100, what: 'a purchase to succeed once Redis is back' });

    const rows = await assertPersisted(store, sku, ledger);
    t.diagnostic(`acknowledged ${ledger.acknowledged.size}, in doubt ${ledger.inDoubt.size}, stored ${rows.length}`);
    // An order stored for a buyer who was answered 503 (Redis took it, then died before the
    // reply): asking again must find it.
    const unanswered = rows.filter((r) => !ledger.acknowledged.has(r.user_id));
    const retries = await storm(unanswered, (r) => server.purchase(sku, r.user_id));
    retries.forEach((res, i) => assertError(res, 200, 'ALREADY_PURCHASED', { purchaseNo: unanswered[i].purchase_no }));
    const product = await server.product(sku);
    assert.equal(product.initialStock, STOCK);
    assert.equal(product.currentStock + product.totalPurchases, STOCK, `stock ${product.currentStock} + sold ${product.totalPurchases}`);
    assert.equal(product.totalPurchases, rows.length, 'Redis and PostgreSQL disagree on the number sold');
    await server.stop();
  });
});

test('FLUSHALL, then a restart of the server: stock and buyers rebuilt from PostgreSQL, no oversell afterwards', { skip }, async () => {
  await withStore({}, async (store) => {
    let server = await startServer(store);
    const STOCK = 200;
    const sku = await server.createSale(STOCK);
    const ledger = newLedger();
    const early = Array.from({ length: 50 }, () => uniqueUser('early'));
    const results1 = await storm(early, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results1), { SUCCESS: early.length });
    // FLUSHALL also drops the streams: only what PostgreSQL holds can come back.
    await store.settle();

    assert.equal((await store.redisCli('FLUSHALL')).trim(), 'OK');
    await server.stop();
    await server.launch();

    const product = await server.product(sku);
    assert.equal(product.initialStock, STOCK);
    assert.equal(product.totalPurchases, early.length);
    assert.equal(product.currentStock, STOCK - early.length);

    const again = await storm(early, (u) => server.purchase(sku, u));
    again.forEach((res, i) => assertError(res, 200, 'ALREADY_PURCHASED', { purchaseNo: ledger.acknowledged.get(early[i]) }));

    const earlyNos = new Set(ledger.acknowledged.values());
    const late = Array.from({ length: 2000 }, () => uniqueUser('late'));
    const results2 = await storm(late, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      if (res.json?.success) assert.ok(!earlyNos.has(res.json.data.purchaseNo), `purchaseNo ${res.json.data.purchaseNo} given again after the rebuild`);
      return res;
    });
    assert.deepEqual(tally(results2), { SUCCESS: STOCK - early.length, '200 SOLD_OUT': late.length - (STOCK - early.length) });

    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, STOCK);
    const after = await server.product(sku);
    assert.equal(after.currentStock, 0);
    assert.equal(after.totalPurchases, STOCK);
    await server.stop();
  });
});

test('persistedPurchases counts the rows in PostgreSQL: none while no worker runs, all once one has', { skip }, async () => {
  await withStore({}, async (store) => {
    const server = await startServer(store, { withWorker: false });
    const sku = await server.createSale(10);
    const users = Array.from({ length: 4 }, () => uniqueUser('persisted'));
    for (const user of users) assert.equal((await server.purchase(sku, user)).json?.success, true);

    // The count is sampled (about once a second): wait for a sample, which must find no row.
    const waiting = await waitFor(async () => {
      const product = await server.product(sku);
      return product.persistedPurchases !== null && product;
    }, { what: 'a first sample of the persisted counts' });
    assert.equal(waiting.totalPurchases, users.length);
    assert.equal(waiting.persistedPurchases, 0, 'no worker ran, so PostgreSQL holds no order');

    const worker = startWorker(store);
    await store.settle();
    const done = await waitFor(async () => {
      const product = await server.product(sku);
      return product.persistedPurchases === users.length && product;
    }, { what: 'persistedPurchases to reach the orders the worker stored' });
    assert.equal(done.totalPurchases, users.length);
    const listed = await server.api('GET', '/api/v1/products', { admin: true });
    assert.equal(listed.json.data.find((p) => p.sku === sku).persistedPurchases, users.length);
    await worker.kill('SIGTERM');
    await server.stop();
  });
});
