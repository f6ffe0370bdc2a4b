// Crash: kill -9 in the middle of an all-success purchase storm, then restart on the same data.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueUser, stormAgent, storm, sqlString, assertOk, assertError } from './lib/harness.mjs';

let server;
after(async () => {
  await server?.stop();
});

test('kill -9 during an all-success storm: every answered purchase survives, stock + sold == initial', async () => {
  server = await startServer();
  const INITIAL = 1_000_000;
  const { sku } = await server.createSale({ initialStock: INITIAL });
  const agent = stormAgent(128);

  // Waves of 1,000 distinct users until the server is gone; it is killed in the middle of the
  // second wave, once 1,500 successes were seen (1,000 at most from the first wave).
  const answered = [];
  let transportErrors = 0;
  let killing = null;
  for (let wave = 0; wave < 40 && transportErrors === 0; wave++) {
    const users = Array.from({ length: 1000 }, () => uniqueUser(`crash${wave}`));
    const results = await storm(users, async (u) => {
      const res = await server.purchase(sku, u, { agent, timeoutMs: 10_000 });
      if (res.json?.success) {
        answered.push(res.json.data);
        if (answered.length >= 1500 && !killing) {
          killing = server.kill();
          killing.catch(() => {}); // awaited below
        }
      }
      return res;
    });
    for (const r of results) {
      if (r.error) transportErrors += 1;
      else assert.equal(r.json?.success, true, `an all-success storm got ${r.status} ${r.text}`);
    }
  }
  agent.destroy();
  assert.ok(killing, 'never reached 1,500 successes');
  await killing;
  assert.ok(transportErrors > 0, 'the kill did not interrupt the storm; nothing was tested');

  await server.restart();

  const rows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(sku)}`);
  const db = new Map(rows.map((r) => [r.user_id, r.purchase_no]));
  assert.equal(db.size, rows.length, 'a user is stored twice');
  assert.equal(new Set(rows.map((r) => r.purchase_no)).size, rows.length, 'a purchaseNo is stored twice');
  const lost = answered.filter((p) => db.get(p.userId) !== p.purchaseNo);
  assert.deepEqual(lost, [], `${lost.length} of ${answered.length} answered purchases are missing after the crash`);

  const product = await server.product(sku);
  assert.equal(product.totalPurchases, rows.length);
  assert.equal(product.currentStock + product.totalPurchases, INITIAL);
  assert.equal((await server.sale(sku)).stock, product.currentStock);

  // The engine knows those buyers again, and the next purchase gets a fresh number.
  for (const p of answered.slice(-50)) {
    assertError(await server.purchase(sku, p.userId), 200, 'ALREADY_PURCHASED', { purchaseNo: p.purchaseNo });
  }
  const next = assertOk(await server.purchase(sku, uniqueUser('after-crash')));
  assert.ok(!rows.some((r) => r.purchase_no === next.purchaseNo), `purchaseNo ${next.purchaseNo} reused after the crash`);
  const final = await server.product(sku);
  assert.equal(final.currentStock + final.totalPurchases, INITIAL);
  assert.equal(final.totalPurchases, rows.length + 1);
});
