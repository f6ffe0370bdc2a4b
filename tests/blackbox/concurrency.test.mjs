// Concurrency: many buyers at once against a small stock, and one buyer many times at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueUser, stormAgent, storm, sqlString } from './lib/harness.mjs';

let server;
let agent;
before(async () => {
  server = await startServer();
  agent = stormAgent(256);
});
after(async () => {
  agent?.destroy();
  await server?.stop();
});

function outcome(res) {
  if (res.error) return `transport error: ${res.error.message}`;
  if (res.status === 200 && res.json?.success === true) return 'SUCCESS';
  return `${res.status} ${res.json?.error?.code ?? res.text}`;
}

function tally(results) {
  const counts = {};
  for (const r of results) counts[outcome(r)] = (counts[outcome(r)] ?? 0) + 1;
  return counts;
}

test('2,500 distinct users at once against stock 100: exactly 100 succeed, the rest SOLD_OUT, the database agrees', async () => {
  const STOCK = 100;
  const USERS = 2500;
  const { sku } = await server.createSale({ initialStock: STOCK });
  const users = Array.from({ length: USERS }, () => uniqueUser('storm'));

  const results = await storm(users, (u) => server.purchase(sku, u, { agent }));
  const counts = tally(results);
  assert.deepEqual(counts, { SUCCESS: STOCK, '200 SOLD_OUT': USERS - STOCK });

  const winners = new Map();
  results.forEach((r, i) => {
    if (r.json?.success) {
      assert.equal(r.json.data.userId, users[i]);
      assert.equal(r.json.data.sku, sku);
      winners.set(users[i], r.json.data.purchaseNo);
    }
  });
  assert.equal(new Set(winners.values()).size, STOCK, 'a purchaseNo was given twice');

  const rows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(sku)}`);
  assert.equal(rows.length, STOCK);
  assert.equal(new Set(rows.map((r) => r.user_id)).size, STOCK, 'a user bought twice');
  assert.equal(new Set(rows.map((r) => r.purchase_no)).size, STOCK, 'a purchaseNo is stored twice');
  assert.deepEqual(new Map(rows.map((r) => [r.user_id, r.purchase_no])), winners);

  const product = await server.product(sku);
  assert.equal(product.currentStock, 0);
  assert.equal(product.totalPurchases, STOCK);
  assert.equal(product.state, 'ENDED');
  assert.equal(product.endReason, 'SOLD_OUT');
  const listing = await server.allPurchases(sku);
  assert.deepEqual(new Map(listing.map((p) => [p.userId, p.purchaseNo])), winners);
});

test('1,000 requests at once over 10 users: exactly 10 purchases, every other answer ALREADY_PURCHASED with the right purchaseNo', async () => {
  const { sku } = await server.createSale({ initialStock: 1000 });
  const users = Array.from({ length: 10 }, () => uniqueUser('dup'));
  // 100 requests per user, interleaved.
  const attempts = Array.from({ length: 1000 }, (_, i) => users[i % 10]);

  const results = await storm(attempts, (u) => server.purchase(sku, u, { agent }));
  const counts = tally(results);
  assert.deepEqual(counts, { SUCCESS: 10, '200 ALREADY_PURCHASED': 990 });

  const purchaseNoOf = new Map();
  results.forEach((r, i) => {
    if (r.json.success) {
      assert.ok(!purchaseNoOf.has(attempts[i]), `${attempts[i]} succeeded twice`);
      purchaseNoOf.set(attempts[i], r.json.data.purchaseNo);
    }
  });
  assert.equal(purchaseNoOf.size, 10);
  results.forEach((r, i) => {
    if (!r.json.success) assert.equal(r.json.error.purchaseNo, purchaseNoOf.get(attempts[i]), `wrong purchaseNo for ${attempts[i]}`);
  });

  const rows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(sku)}`);
  assert.equal(rows.length, 10);
  assert.deepEqual(new Map(rows.map((r) => [r.user_id, r.purchase_no])), purchaseNoOf);
  const product = await server.product(sku);
  assert.equal(product.currentStock, 990);
  assert.equal(product.totalPurchases, 10);
});
