// GET /api/v1/products/{sku}/purchases?format=csv: the admin's download of every order, streamed
// in pages. Checked against the JSON listing and the database: every order exactly once, also
// while purchases go on, user ids that need quoting come back intact, a client that hangs up
// mid-download costs the server nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, uniqueUser, storm, stormAgent, assertError, sqlString } from './lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

// RFC 4180 with CRLF line ends; then one leading apostrophe comes off (purchases_csv.h).
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else {
      field += c;
    }
  }
  assert.equal(field, '', 'the file ends with CRLF');
  assert.equal(row.length, 0, 'the file ends with CRLF');
  return rows.map((r) => r.map((f) => (f.startsWith("'") ? f.slice(1) : f)));
}

async function downloadCsv(sku) {
  const res = await server.api('GET', `/api/v1/products/${encodeURIComponent(sku)}/purchases?format=csv`, { admin: true });
  assert.equal(res.status, 200, res.text);
  const rows = parseCsv(res.text);
  assert.deepEqual(rows[0], ['purchaseNo', 'sku', 'userId', 'purchasedAt']);
  return { res, orders: rows.slice(1).map(([purchaseNo, sku2, userId, purchasedAt]) => ({ purchaseNo, sku: sku2, userId, purchasedAt })) };
}

async function buyAll(sku, users) {
  const agent = stormAgent(64);
  try {
    const results = await storm(users, (u) => server.purchase(sku, u, { agent }));
    for (const r of results) assert.equal(r.json?.success, true, r.error?.message ?? r.text);
    return results.map((r) => r.json.data);
  } finally {
    agent.destroy();
  }
}

test('the download: admin only, CSV headers, and the errors of the JSON listing', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const path = `/api/v1/products/${sku}/purchases?format=csv`;
  assertError(await server.api('GET', path), 401, 'UNAUTHORIZED');
  assertError(await server.api('GET', path, { admin: 'wrong-key-123' }), 401, 'UNAUTHORIZED');
  assertError(await server.api('GET', '/api/v1/products/NO-SUCH-SKU-1/purchases?format=csv', { admin: true }), 404, 'NOT_FOUND');
  assertError(await server.api('GET', `/api/v1/products/${sku}/purchases?format=xml`, { admin: true }), 400, 'VALIDATION_ERROR', { field: 'format' });

  const { res, orders } = await downloadCsv(sku);
  assert.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
  assert.equal(res.headers['content-disposition'], `attachment; filename="${sku}-purchases.csv"`);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['transfer-encoding'], 'chunked', 'streamed, not built whole');
  assert.deepEqual(orders, [], 'a sale without orders has only the header row');
  assert.equal(res.text, 'purchaseNo,sku,userId,purchasedAt\r\n');
});

test('every order exactly once, over several pages, with user ids that need quoting', async () => {
  // Header values travel as bytes: a UTF-8 user id is sent as its bytes read as Latin-1.
  const utf8 = Buffer.from('ünï cödé', 'utf8').toString('latin1');
  const tricky = ['a,b', 'say "hi"', '=1+1', '-5', '@x', "'q", 'two  spaces', utf8];
  const users = [...tricky, ...Array.from({ length: 2300 }, () => uniqueUser('csv'))];
  const { sku } = await server.createSale({ initialStock: users.length + 10 });
  const bought = await buyAll(sku, users);
  assert.ok(bought.some((p) => p.userId === 'ünï cödé'));

  const { orders } = await downloadCsv(sku);
  assert.equal(orders.length, users.length);
  assert.equal(new Set(orders.map((o) => o.purchaseNo)).size, orders.length, 'a purchaseNo appears twice');
  const byNumber = new Map(bought.map((p) => [p.purchaseNo, p]));
  for (const order of orders) {
    const answer = byNumber.get(order.purchaseNo);
    assert.ok(answer, `${order.purchaseNo} was never acknowledged`);
    assert.deepEqual(order, answer);
  }
  // in purchase order, as the JSON listing
  const listed = await server.allPurchases(sku);
  assert.deepEqual(orders.map((o) => o.purchaseNo), listed.map((p) => p.purchaseNo));
  const rows = await server.dbQuery(`SELECT purchase_no FROM purchases WHERE sku = ${sqlString(sku)}`);
  assert.deepEqual(new Set(rows.map((r) => r.purchase_no)), new Set(orders.map((o) => o.purchaseNo)));
});

test('downloads during a purchase storm hold each order at most once, and the one after holds all', async () => {
  const users = Array.from({ length: 3000 }, () => uniqueUser('live'));
  const { sku } = await server.createSale({ initialStock: users.length });
  const buying = buyAll(sku, users);
  const during = [];
  let done = false;
  buying.finally(() => (done = true));
  while (!done || during.length === 0) {
    const { orders } = await downloadCsv(sku);
    assert.equal(new Set(orders.map((o) => o.purchaseNo)).size, orders.length, 'a purchaseNo appears twice');
    // a prefix of purchase order: numbers 1..n without a gap
    orders.forEach((o, i) => assert.equal(o.purchaseNo.split('-').pop(), String(i + 1)));
    during.push(orders.length);
  }
  const bought = await buying;
  const { orders } = await downloadCsv(sku);
  assert.equal(orders.length, users.length);
  assert.deepEqual(new Set(orders.map((o) => o.purchaseNo)), new Set(bought.map((p) => p.purchaseNo)));
  assert.ok(during.every((n, i) => i === 0 || n >= during[i - 1]), `downloads shrank: ${during}`);
});

test('a client that hangs up mid-download leaves the server serving', async () => {
  const users = Array.from({ length: 2500 }, () => uniqueUser('gone'));
  const { sku } = await server.createSale({ initialStock: users.length });
  await buyAll(sku, users);
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve, reject) => {
      const req = http.get(`${server.url}/api/v1/products/${sku}/purchases?format=csv`, { headers: { 'X-Admin-Key': server.adminKey } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
    });
  }
  const { orders } = await downloadCsv(sku);
  assert.equal(orders.length, users.length);
  assert.equal((await server.api('GET', '/health')).status, 200);
});
