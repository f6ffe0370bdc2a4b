// Distributed mode only: Redis loses data — a FLUSHALL during a storm, and a failover to a replica
// that lagged (an older copy of a sale's keys put back, then every client connection cut) — and
// no purchase number is ever issued twice, across the whole run: the numbers lost with Redis are
// not issued again. The loss is reported: a line at error level, a metric, /health "degraded"
// with a detail, until `flashsale data-loss --acknowledge`; then /health is "ok" again.
//
// What such a loss loses (the orders acknowledged but not yet in PostgreSQL) is in
// docs/architecture.md; the tests check that exactly those, and no others, are missing.
//
// Reproduce by hand: scripts/cluster-demo.sh start, buy with the worker stopped, then
// redis-cli -p PORT FLUSHALL, buy again, and compare the numbers with PostgreSQL's purchases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODE_NAME, metricSum, runBinary, storm, uniqueUser, waitFor } from './lib/harness.mjs';
import { newLedger, outcome, record, startInstance, startWorker, tally, withStore } from './lib/cluster.mjs';

const skip = MODE_NAME !== 'distributed' && 'distributed mode only (FLASHSALE_MODE=distributed)';

async function buyers(server, sku, ledger, count, prefix, during) {
  const users = Array.from({ length: count }, () => uniqueUser(prefix));
  const results = await storm(users, async (u) => {
    const res = await server.purchase(sku, u, { timeoutMs: 15_000 });
    record(ledger, u, res);
    await during?.();
    return res;
  });
  return { users, results };
}

// Every acknowledged number was given once; PostgreSQL holds each of its rows for the buyer who was
// given that number (or whose answer was in doubt). Returns the acknowledged buyers PostgreSQL
// lacks.
async function assertNumbersUnique(store, sku, ledger) {
  const numbers = [...ledger.acknowledged.values()];
  const given = new Map();
  for (const [user, number] of ledger.acknowledged) {
    assert.ok(!given.has(number), `${number} was given to ${given.get(number)} and to ${user}`);
    given.set(number, user);
  }
  assert.equal(new Set(numbers).size, numbers.length);
  await store.settle();
  const rows = await store.purchasesOf(sku);
  assert.equal(new Set(rows.map((r) => r.purchase_no)).size, rows.length, 'a number is stored twice');
  for (const row of rows) {
    const owner = given.get(row.purchase_no);
    assert.ok(owner === row.user_id || (owner === undefined && ledger.inDoubt.has(row.user_id)),
      `PostgreSQL has ${row.purchase_no} for ${row.user_id}, which was given to ${owner ?? 'nobody'}`);
  }
  const stored = new Set(rows.map((r) => r.user_id));
  return [...ledger.acknowledged.keys()].filter((u) => !stored.has(u));
}

async function health(server) {
  const res = await server.api('GET', '/health');
  assert.equal(res.status, 200, res.text);
  return res.json;
}

// The report: error line, metric, /health degraded until acknowledged with the CLI.
async function assertReportedUntilAcknowledged(t, store, server) {
  await waitFor(() => / error +reconcile: redis data loss: /.test(server.child.output), { what: 'the error line of the loss' });
  // Logged first, then recorded in PostgreSQL and counted, at the end of the reconciler's pass.
  await waitFor(async () => metricSum((await server.api('GET', '/metrics')).text, 'flashsale_redis_data_losses_total') >= 1,
    { what: 'flashsale_redis_data_losses_total to count the loss' });
  const degraded = await waitFor(async () => {
    const now = await health(server);
    return now.status === 'degraded' && now;
  }, { what: '/health to be degraded' });
  assert.equal(degraded.checks.redis_data.status, 'down');
  assert.match(degraded.checks.redis_data.detail, /unacknowledged loss/);

  const listed = await runBinary(['data-loss', '--postgres', store.postgresUrl]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^unacknowledged .*: Redis/m);
  t.diagnostic(listed.stdout.trim());
  // Listing changes nothing.
  assert.equal((await health(server)).checks.redis_data.status, 'down');
  const acknowledged = await runBinary(['data-loss', '--postgres', store.postgresUrl, '--acknowledge']);
  assert.equal(acknowledged.code, 0, acknowledged.stderr);
  assert.match(acknowledged.stdout, /^acknowledged /m);
  await waitFor(async () => (await health(server)).status === 'ok', { what: '/health to be ok once acknowledged' });
  const again = await runBinary(['data-loss', '--postgres', store.postgresUrl]);
  assert.equal(again.stdout.trim(), 'no unacknowledged Redis data loss');
}

test('FLUSHALL during a storm: only the orders not yet in PostgreSQL are lost, no number is issued twice, and the loss is reported until acknowledged', { skip }, async (t) => {
  await withStore({}, async (store) => {
    const server = await startInstance(store, { withWorker: false });
    let worker = startWorker(store);
    const sku = await server.createSale(1_000_000);
    const ledger = newLedger();

    const first = await buyers(server, sku, ledger, 500, 'persisted');
    assert.deepEqual(tally(first.results), { SUCCESS: 500 });
    await store.settle();
    // No worker: what is bought now stays in the stream, where the FLUSHALL finds it.
    await worker.kill('SIGTERM');
    let flushed = null;
    const storming = await buyers(server, sku, ledger, 2000, 'storm', async () => {
      if (ledger.acknowledged.size >= 800 && !flushed) flushed = store.redisCli('FLUSHALL');
    });
    await flushed;
    for (const res of storming.results) if (res.json?.success !== true) assert.equal(outcome(res), '503 SERVICE_UNAVAILABLE');
    // The server rebuilds the sale from PostgreSQL by itself.
    await waitFor(async () => {
      const user = uniqueUser('probe');
      const res = await server.purchase(sku, user);
      record(ledger, user, res);
      return res.json?.success === true;
    }, { timeoutMs: 20_000, intervalMs: 50, what: 'purchases to succeed after the FLUSHALL' });
    const after = await buyers(server, sku, ledger, 1000, 'after');
    assert.deepEqual(tally(after.results), { SUCCESS: 1000 });

    worker = startWorker(store);
    const lost = await assertNumbersUnique(store, sku, ledger);
    t.diagnostic(`acknowledged ${ledger.acknowledged.size}, lost with Redis ${lost.length}, in doubt ${ledger.inDoubt.size}`);
    assert.ok(lost.length > 0, 'the FLUSHALL found no order in the stream: nothing was at stake');
    const stormed = new Set(storming.users);
    assert.deepEqual(lost.filter((u) => !stormed.has(u)), [], 'orders persisted before the FLUSHALL or bought after it are missing');
    // The lost buyers' units came back: stock + persisted == initial.
    const product = await server.product(sku);
    assert.equal(product.currentStock + product.totalPurchases, 1_000_000);

    await assertReportedUntilAcknowledged(t, store, server);
    await worker.kill('SIGTERM');
    await server.stop();
  });
});

test('a failover to a replica that lagged (an older copy of the sale, then every connection cut): Redis is found behind PostgreSQL, repaired, and no number is issued twice', { skip }, async (t) => {
  await withStore({}, async (store) => {
    const server = await startInstance(store);
    const sku = await server.createSale(10_000);
    const keys = ['sale', 'buyers', 'orders'].map((k) => `flashsale:{${sku}}:${k}`);
    const ledger = newLedger();

    const early = await buyers(server, sku, ledger, 200, 'early');
    assert.deepEqual(tally(early.results), { SUCCESS: 200 });
    await store.settle();
    // The replica's copy, taken now (COPY keeps the hash tag's slot).
    for (const key of keys) assert.equal((await store.redisCli('COPY', key, `${key}:replica`)).trim(), '1');
    const late = await buyers(server, sku, ledger, 200, 'late');
    assert.deepEqual(tally(late.results), { SUCCESS: 200 });
    await store.settle();

    // The failover: the copy becomes the data, and every client reconnects to it.
    for (const key of keys) assert.equal((await store.redisCli('COPY', `${key}:replica`, key, 'REPLACE')).trim(), '1');
    await store.redisCli('CLIENT', 'KILL', 'TYPE', 'normal');
    await waitFor(async () => (await health(server)).checks.redis_data?.status === 'down', { timeoutMs: 20_000, what: 'the loss to be found' });

    // The late buyers are known again, with the numbers they were given.
    const again = await storm(late.users, (u) => server.purchase(sku, u));
    again.forEach((res, i) => {
      assert.equal(res.json?.error?.code, 'ALREADY_PURCHASED', res.text);
      assert.equal(res.json.error.purchaseNo, ledger.acknowledged.get(late.users[i]));
    });
    const after = await buyers(server, sku, ledger, 200, 'after');
    assert.deepEqual(tally(after.results), { SUCCESS: 200 });
    const lost = await assertNumbersUnique(store, sku, ledger);
    assert.deepEqual(lost, [], 'every acknowledged order had reached PostgreSQL before the failover');
    const product = await server.product(sku);
    assert.equal(product.totalPurchases, 600);
    assert.equal(product.currentStock, 10_000 - 600);

    await assertReportedUntilAcknowledged(t, store, server);
    await server.stop();
  });
});
