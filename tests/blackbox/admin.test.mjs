// Admin API: authentication, create/list/get/update/delete, validation, purchase listing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueSku, uniqueUser, isoIn, ISO_MS_Z, assertOk, assertError, sqlString, waitFor } from './lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

function validSale(overrides = {}) {
  return {
    sku: uniqueSku('ADM'),
    productName: 'Admin product',
    initialStock: 10,
    startTime: isoIn(3_600_000),
    endTime: isoIn(7_200_000),
    ...overrides,
  };
}

test('every admin route answers 401 UNAUTHORIZED without, or with a wrong, X-Admin-Key, and does nothing', async () => {
  const { sku } = await server.createSale({ initialStock: 5, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const newSku = uniqueSku('NOAUTH');
  const key = server.adminKey;
  const wrongKeys = [undefined, '', 'wrong', key.slice(0, -1), `${key}x`, key.toUpperCase() === key ? key.toLowerCase() : key.toUpperCase()];
  const routes = [
    ['POST', '/api/v1/products', validSale({ sku: newSku })],
    ['GET', '/api/v1/products'],
    ['GET', `/api/v1/products/${sku}`],
    ['PUT', `/api/v1/products/${sku}`, { productName: 'hacked' }],
    ['DELETE', `/api/v1/products/${sku}`],
    ['GET', `/api/v1/products/${sku}/purchases`],
    ['GET', `/api/v1/products/${sku}/purchases?limit=10`],
    ['GET', `/api/v1/products/${uniqueSku('NOPE')}`],
  ];
  for (const [method, path, body] of routes) {
    for (const admin of wrongKeys) {
      const headers = admin === undefined ? {} : { 'X-Admin-Key': admin };
      assertError(await server.api(method, path, { headers, body }), 401, 'UNAUTHORIZED');
    }
  }
  // Nothing changed.
  assertError(await server.api('GET', `/api/v1/sales?sku=${newSku}`), 404, 'NOT_FOUND');
  const sale = await server.sale(sku);
  assert.equal(sale.productName, 'Test product');
  assert.equal(sale.stock, 5);
});

test('create: 201 with the sale, its state and createdAt', async () => {
  const body = validSale({ initialStock: 42, productName: 'Phone X' });
  const before = Date.now();
  const res = await server.api('POST', '/api/v1/products', { admin: true, body });
  const created = assertOk(res, 201);
  assert.equal(created.sku, body.sku);
  assert.equal(created.productName, 'Phone X');
  assert.equal(created.initialStock, 42);
  assert.equal(created.startTime, body.startTime);
  assert.equal(created.endTime, body.endTime);
  assert.equal(created.state, 'UPCOMING');
  assert.match(created.createdAt, ISO_MS_Z);
  assert.ok(Math.abs(Date.parse(created.createdAt) - before) < 60_000, `createdAt ${created.createdAt}`);

  const live = assertOk(await server.api('POST', '/api/v1/products', { admin: true, body: validSale({ startTime: isoIn(-1000) }) }), 201);
  assert.equal(live.state, 'ACTIVE');
  // A sale starting in the past is live at once.
  assertOk(await server.purchase(live.sku, uniqueUser()));
});

test('create: an existing sku is 409 CONFLICT and the original is untouched', async () => {
  const body = validSale({ productName: 'Original', initialStock: 3 });
  assertOk(await server.api('POST', '/api/v1/products', { admin: true, body }), 201);
  assertError(await server.api('POST', '/api/v1/products', { admin: true, body: { ...body, productName: 'Copy', initialStock: 99 } }), 409, 'CONFLICT');
  const product = await server.product(body.sku);
  assert.equal(product.productName, 'Original');
  assert.equal(product.initialStock, 3);
});

test('create: each bad field -> 400 VALIDATION_ERROR naming it, and nothing is created', async () => {
  const cases = [
    ['sku', { sku: undefined }],
    ['sku', { sku: '' }],
    ['sku', { sku: 'has space' }],
    ['sku', { sku: 'under_score' }],
    ['sku', { sku: 'slash/sku' }],
    ['sku', { sku: 'ÄÖÜ' }],
    ['sku', { sku: 'A'.repeat(65) }],
    ['sku', { sku: 123 }],
    ['productName', { productName: undefined }],
    ['productName', { productName: '' }],
    ['productName', { productName: 'n'.repeat(256) }],
    ['productName', { productName: 5 }],
    ['initialStock', { initialStock: undefined }],
    ['initialStock', { initialStock: 0 }],
    ['initialStock', { initialStock: -5 }],
    ['initialStock', { initialStock: 2.5 }],
    ['initialStock', { initialStock: '10' }],
    ['initialStock', { initialStock: null }],
    ['startTime', { startTime: undefined }],
    ['startTime', { startTime: 'tomorrow' }],
    ['startTime', { startTime: '2030-13-01T00:00:00.000Z' }],
    ['startTime', { startTime: '2030-01-01T00:00:00' }],
    ['startTime', { startTime: 1893456000000 }],
    ['endTime', { endTime: undefined }],
    ['endTime', { endTime: 'never' }],
    ['endTime', { startTime: '2030-01-01T00:00:00.000Z', endTime: '2030-01-01T00:00:00.000Z' }],
    ['endTime', { startTime: '2030-01-02T00:00:00.000Z', endTime: '2030-01-01T00:00:00.000Z' }],
  ];
  for (const [field, overrides] of cases) {
    const body = validSale(overrides);
    const res = await server.api('POST', '/api/v1/products', { admin: true, body });
    assertError(res, 400, 'VALIDATION_ERROR', { field });
  }
  // The limits themselves are fine.
  const sku64 = `${uniqueSku('MAX')}-`.padEnd(64, 'Z');
  const ok = assertOk(await server.api('POST', '/api/v1/products', { admin: true, body: validSale({ sku: sku64, productName: 'p'.repeat(255), initialStock: 1 }) }), 201);
  assert.equal(ok.sku, sku64);
  assert.equal(ok.productName.length, 255);
  assertOk(await server.api('POST', '/api/v1/products', { admin: true, body: validSale({ sku: `${uniqueSku('a-b')}`.toLowerCase(), productName: 'x' }) }), 201);
  // Bad JSON.
  assertError(await server.api('POST', '/api/v1/products', { admin: true, body: '{"sku": "A",' }), 400, 'VALIDATION_ERROR', { field: 'body' });
});

test('create: a body over 16 KiB -> 413', async () => {
  const body = JSON.stringify(validSale()) + ' '.repeat(17 * 1024);
  assertError(await server.api('POST', '/api/v1/products', { admin: true, body }), 413, 'PAYLOAD_TOO_LARGE');
});

test('GET /api/v1/products lists every sale; GET /api/v1/products/:sku adds currentStock, totalPurchases and persistedPurchases', async () => {
  const a = await server.createSale({ initialStock: 5 });
  const b = await server.createSale({ initialStock: 8, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const list = assertOk(await server.api('GET', '/api/v1/products', { admin: true }));
  assert.ok(Array.isArray(list));
  for (const s of [a, b]) {
    const found = list.find((p) => p.sku === s.sku);
    assert.ok(found, `${s.sku} missing from /api/v1/products`);
    assert.equal(found.initialStock, s.initialStock);
  }
  assertOk(await server.purchase(a.sku, uniqueUser()));
  assertOk(await server.purchase(a.sku, uniqueUser()));
  const product = await server.product(a.sku);
  assert.equal(product.sku, a.sku);
  assert.equal(product.initialStock, 5);
  assert.equal(product.currentStock, 3);
  assert.equal(product.totalPurchases, 2);
  assert.equal(product.state, 'ACTIVE');
  assert.match(product.createdAt, ISO_MS_Z);
  // Embedded: committed before the answers, so at once; distributed: once the worker stored them
  // and the next sample (about a second) counted them.
  if (server.mode === 'embedded') assert.equal(product.persistedPurchases, 2);
  await waitFor(async () => (await server.product(a.sku)).persistedPurchases === 2, { what: 'persistedPurchases of 2' });
  const pb = await server.product(b.sku);
  assert.equal(pb.currentStock, 8);
  assert.equal(pb.totalPurchases, 0);
  assert.ok(pb.persistedPurchases === 0 || pb.persistedPurchases === null, `persistedPurchases ${pb.persistedPurchases}`);
  assertError(await server.api('GET', `/api/v1/products/${uniqueSku('NOPE')}`, { admin: true }), 404, 'NOT_FOUND');
});

test('PUT: a partial update of an UPCOMING sale, visible everywhere', async () => {
  const created = await server.createSale({ productName: 'Before', initialStock: 5, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const sku = created.sku;

  const updated = assertOk(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { productName: 'After' } }));
  assert.equal(updated.productName, 'After');
  assert.equal(updated.initialStock, 5);
  assert.equal(updated.startTime, created.startTime);
  let sale = await server.sale(sku);
  assert.equal(sale.productName, 'After');
  assert.equal(sale.startTime, created.startTime);
  assert.equal(sale.endTime, created.endTime);

  const newEnd = isoIn(10_800_000);
  assertOk(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { initialStock: 20, endTime: newEnd } }));
  sale = await server.sale(sku);
  assert.deepEqual([sale.productName, sale.initialStock, sale.stock, sale.endTime, sale.state], ['After', 20, 20, newEnd, 'UPCOMING']);
  const product = await server.product(sku);
  assert.equal(product.currentStock, 20);
  assert.equal(product.totalPurchases, 0);

  // Bad fields are rejected per field and change nothing.
  assertError(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { productName: '' } }), 400, 'VALIDATION_ERROR', { field: 'productName' });
  assertError(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { initialStock: 0 } }), 400, 'VALIDATION_ERROR', { field: 'initialStock' });
  assertError(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { endTime: 'soon' } }), 400, 'VALIDATION_ERROR', { field: 'endTime' });
  assertError(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { endTime: created.startTime } }), 400, 'VALIDATION_ERROR', { field: 'endTime' });
  assertError(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: '{not json' }), 400, 'VALIDATION_ERROR', { field: 'body' });
  sale = await server.sale(sku);
  assert.deepEqual([sale.productName, sale.initialStock, sale.endTime], ['After', 20, newEnd]);

  // Moving the start into the past makes it live at once.
  assertOk(await server.api('PUT', `/api/v1/products/${sku}`, { admin: true, body: { startTime: isoIn(-1000) } }));
  assert.equal((await server.sale(sku)).state, 'ACTIVE');
  assertOk(await server.purchase(sku, uniqueUser()));

  assertError(await server.api('PUT', `/api/v1/products/${uniqueSku('NOPE')}`, { admin: true, body: { productName: 'x' } }), 404, 'NOT_FOUND');
});

test('PUT on an ACTIVE or ENDED sale -> 200 SALE_NOT_MODIFIABLE, nothing changes', async () => {
  const active = await server.createSale({ productName: 'Live', initialStock: 5 });
  assertError(await server.api('PUT', `/api/v1/products/${active.sku}`, { admin: true, body: { productName: 'Changed', initialStock: 50 } }), 200, 'SALE_NOT_MODIFIABLE');
  const sale = await server.sale(active.sku);
  assert.deepEqual([sale.productName, sale.initialStock, sale.stock], ['Live', 5, 5]);

  const ended = await server.createSale({ productName: 'Old', startTime: isoIn(-7_200_000), endTime: isoIn(-3_600_000) });
  assertError(await server.api('PUT', `/api/v1/products/${ended.sku}`, { admin: true, body: { endTime: isoIn(3_600_000) } }), 200, 'SALE_NOT_MODIFIABLE');
  assert.equal((await server.sale(ended.sku)).state, 'ENDED');
});

test('DELETE removes the sale and its purchases; the sku starts clean when created again', async () => {
  const { sku } = await server.createSale({ initialStock: 3 });
  const buyers = [uniqueUser(), uniqueUser()];
  const earlier = [];
  for (const u of buyers) earlier.push(assertOk(await server.purchase(sku, u)).purchaseNo);
  assert.equal(await server.dbCount(`SELECT COUNT(*) AS n FROM purchases WHERE sku = ${sqlString(sku)}`), 2);

  await server.deleteSale(sku);

  assertError(await server.api('GET', `/api/v1/sales?sku=${sku}`), 404, 'NOT_FOUND');
  assertError(await server.api('GET', `/api/v1/products/${sku}`, { admin: true }), 404, 'NOT_FOUND');
  assertError(await server.api('GET', `/api/v1/products/${sku}/purchases`, { admin: true }), 404, 'NOT_FOUND');
  assertError(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: buyers[0] }), 404, 'NOT_FOUND');
  assertError(await server.purchase(sku, buyers[0]), 404, 'NOT_FOUND');
  assert.ok(!(assertOk(await server.api('GET', '/api/v1/sales')).some((s) => s.sku === sku)));
  assertError(await server.api('DELETE', `/api/v1/products/${sku}`, { admin: true }), 404, 'NOT_FOUND');
  assert.equal(await server.dbCount(`SELECT COUNT(*) AS n FROM purchases WHERE sku = ${sqlString(sku)}`), 0);
  assert.equal(await server.dbCount(`SELECT COUNT(*) AS n FROM sales WHERE sku = ${sqlString(sku)}`), 0);

  // Created again: full stock, no buyers, and a former buyer may buy with a new purchaseNo.
  await server.createSale({ sku, initialStock: 3 });
  const product = await server.product(sku);
  assert.equal(product.currentStock, 3);
  assert.equal(product.totalPurchases, 0);
  assert.deepEqual(await server.allPurchases(sku), []);
  assertError(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: buyers[0] }), 404, 'NOT_FOUND');
  const again = assertOk(await server.purchase(sku, buyers[0]));
  assert.ok(!earlier.includes(again.purchaseNo), `purchaseNo ${again.purchaseNo} reused after delete`);
  assert.equal((await server.sale(sku)).stock, 2);
  const rows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(sku)}`);
  assert.deepEqual(rows.map((r) => [r.purchase_no, r.user_id]), [[again.purchaseNo, buyers[0]]]);
});

test('GET /api/v1/products/:sku/purchases pages through every purchase in order', async () => {
  const { sku } = await server.createSale({ initialStock: 50 });
  const bought = [];
  for (let i = 0; i < 23; i++) bought.push(assertOk(await server.purchase(sku, uniqueUser(`p${i}`))));

  const seen = [];
  let after = null;
  let pages = 0;
  for (;;) {
    const q = after === null ? 'limit=5' : `limit=5&after=${encodeURIComponent(after)}`;
    const res = await server.api('GET', `/api/v1/products/${sku}/purchases?${q}`, { admin: true });
    const data = assertOk(res);
    assert.ok(Array.isArray(data));
    assert.ok(data.length <= 5, `page of ${data.length} > limit 5`);
    assert.ok(res.json.meta && 'nextCursor' in res.json.meta, res.text);
    const next = res.json.meta.nextCursor;
    assert.ok(next === null || typeof next === 'string', res.text);
    seen.push(...data);
    pages += 1;
    assert.ok(pages <= 10, 'too many pages');
    if (next === null) break;
    after = next;
  }
  assert.ok(pages >= 5);
  assert.deepEqual(seen.map((p) => p.purchaseNo), bought.map((b) => b.purchaseNo), 'order, duplicates or gaps');
  assert.deepEqual(seen.map((p) => p.userId), bought.map((b) => b.userId));
  for (const p of seen) {
    assert.equal(p.sku, sku);
    assert.match(p.purchasedAt, ISO_MS_Z);
  }
  assert.deepEqual(seen.map((p) => p.purchasedAt), bought.map((b) => b.purchasedAt));

  // One page holds everything with a large limit, and without a limit the first page starts at the beginning.
  const all = await server.api('GET', `/api/v1/products/${sku}/purchases?limit=1000`, { admin: true });
  assert.deepEqual(assertOk(all).map((p) => p.purchaseNo), bought.map((b) => b.purchaseNo));
  assert.equal(all.json.meta.nextCursor, null);
  const dflt = assertOk(await server.api('GET', `/api/v1/products/${sku}/purchases`, { admin: true }));
  assert.deepEqual(dflt.map((p) => p.purchaseNo), bought.slice(0, dflt.length).map((b) => b.purchaseNo));
  assert.ok(dflt.length >= 1);

  // A sale without purchases.
  const { sku: empty } = await server.createSale({ initialStock: 5 });
  const none = await server.api('GET', `/api/v1/products/${empty}/purchases`, { admin: true });
  assert.deepEqual(assertOk(none), []);
  assert.equal(none.json.meta.nextCursor, null);
});

test('purchase listing: a limit outside 1..1000 -> 400 field limit, a bad cursor -> 400 field after', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  assertOk(await server.purchase(sku, uniqueUser()));
  for (const limit of ['0', '1001', '-1', 'abc', '2.5', '100000']) {
    assertError(await server.api('GET', `/api/v1/products/${sku}/purchases?limit=${limit}`, { admin: true }), 400, 'VALIDATION_ERROR', { field: 'limit' });
  }
  assertOk(await server.api('GET', `/api/v1/products/${sku}/purchases?limit=1`, { admin: true }));
  assertOk(await server.api('GET', `/api/v1/products/${sku}/purchases?limit=1000`, { admin: true }));
  for (const after of ['garbage', '!!!', 'FS999999-1x', '-1']) {
    assertError(await server.api('GET', `/api/v1/products/${sku}/purchases?after=${encodeURIComponent(after)}`, { admin: true }), 400, 'VALIDATION_ERROR', { field: 'after' });
  }
  assertError(await server.api('GET', `/api/v1/products/${uniqueSku('NOPE')}/purchases`, { admin: true }), 404, 'NOT_FOUND');
});
