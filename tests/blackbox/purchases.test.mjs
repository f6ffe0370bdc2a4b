// POST /api/v1/purchases and GET /api/v1/purchases: the reply, the order of the checks, and
// every validation error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueSku, uniqueUser, isoIn, ISO_MS_Z, assertOk, assertError, sqlString } from './lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('a purchase answers {purchaseNo, sku, userId, purchasedAt} and takes one unit', async () => {
  const sku = await server.createSale({ initialStock: 5 }).then((s) => s.sku);
  const user = uniqueUser();
  const before = Date.now();
  const res = await server.purchase(sku, user);
  const after = Date.now();
  const p = assertOk(res);
  assert.equal(typeof p.purchaseNo, 'string');
  assert.ok(p.purchaseNo.length > 0);
  assert.equal(p.sku, sku);
  assert.equal(p.userId, user);
  assert.match(p.purchasedAt, ISO_MS_Z);
  const at = Date.parse(p.purchasedAt);
  assert.ok(at >= before - 1000 && at <= after + 1000, `purchasedAt ${p.purchasedAt} is not now`);
  assert.equal((await server.sale(sku)).stock, 4);
});

test('"qty": 1 is accepted', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const p = assertOk(await server.api('POST', '/api/v1/purchases', { userId: uniqueUser(), body: { sku, qty: 1 } }));
  assert.equal(p.sku, sku);
  assert.equal((await server.sale(sku)).stock, 4);
});

test('unknown sku -> 404 NOT_FOUND', async () => {
  assertError(await server.purchase(uniqueSku('NOPE'), uniqueUser()), 404, 'NOT_FOUND');
});

test('a second purchase by the same user: ALREADY_PURCHASED with the original purchaseNo, no stock taken', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const user = uniqueUser();
  const first = assertOk(await server.purchase(sku, user));
  for (let i = 0; i < 3; i++) {
    assertError(await server.purchase(sku, user), 200, 'ALREADY_PURCHASED', { purchaseNo: first.purchaseNo });
  }
  assert.equal((await server.sale(sku)).stock, 4);
  // The same user may buy in another sale.
  const { sku: other } = await server.createSale({ initialStock: 5 });
  const second = assertOk(await server.purchase(other, user));
  assert.notEqual(second.purchaseNo, first.purchaseNo);
});

test('ALREADY_PURCHASED is answered before SOLD_OUT', async () => {
  const { sku } = await server.createSale({ initialStock: 1 });
  const user = uniqueUser();
  const first = assertOk(await server.purchase(sku, user));
  assertError(await server.purchase(sku, uniqueUser()), 200, 'SOLD_OUT');
  assertError(await server.purchase(sku, user), 200, 'ALREADY_PURCHASED', { purchaseNo: first.purchaseNo });
});

test('SALE_NOT_ACTIVE for an upcoming and for an expired sale; no stock taken', async () => {
  const { sku: upcoming } = await server.createSale({ initialStock: 2, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const { sku: expired } = await server.createSale({ initialStock: 2, startTime: isoIn(-7_200_000), endTime: isoIn(-3_600_000) });
  assertError(await server.purchase(upcoming, uniqueUser()), 200, 'SALE_NOT_ACTIVE');
  assertError(await server.purchase(expired, uniqueUser()), 200, 'SALE_NOT_ACTIVE');
  assert.equal((await server.sale(upcoming)).stock, 2);
  assert.equal((await server.sale(expired)).stock, 2);
});

test('SOLD_OUT once the stock is gone', async () => {
  const { sku } = await server.createSale({ initialStock: 2 });
  assertOk(await server.purchase(sku, uniqueUser()));
  assertOk(await server.purchase(sku, uniqueUser()));
  assertError(await server.purchase(sku, uniqueUser()), 200, 'SOLD_OUT');
  assertError(await server.purchase(sku, uniqueUser()), 200, 'SOLD_OUT');
  assert.equal((await server.sale(sku)).stock, 0);
});

test('X-User-Id is trimmed: " alice " is "alice"', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const name = uniqueUser('alice');
  const first = assertOk(await server.purchase(sku, ` ${name} `));
  assert.equal(first.userId, name);
  assertError(await server.purchase(sku, name), 200, 'ALREADY_PURCHASED', { purchaseNo: first.purchaseNo });
  assertError(await server.purchase(sku, `\t${name}  `), 200, 'ALREADY_PURCHASED', { purchaseNo: first.purchaseNo });
  const got = assertOk(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: `  ${name}` }));
  assert.equal(got.purchaseNo, first.purchaseNo);
  assert.equal((await server.sale(sku)).stock, 4);
});

test('X-User-Id missing, empty, blank or over 255 bytes -> 400 VALIDATION_ERROR field X-User-Id', async () => {
  const { sku } = await server.createSale({ initialStock: 50 });
  const field = { field: 'X-User-Id' };
  assertError(await server.api('POST', '/api/v1/purchases', { body: { sku } }), 400, 'VALIDATION_ERROR', field);
  assertError(await server.purchase(sku, ''), 400, 'VALIDATION_ERROR', field);
  assertError(await server.purchase(sku, '   '), 400, 'VALIDATION_ERROR', field);
  assertError(await server.purchase(sku, 'u'.repeat(256)), 400, 'VALIDATION_ERROR', field);
  // 256 bytes in UTF-8 but only 128 characters (node sends header strings as latin1 bytes).
  const utf8 = Buffer.from('é'.repeat(128), 'utf8').toString('latin1');
  assertError(await server.purchase(sku, utf8), 400, 'VALIDATION_ERROR', field);
  // The limits themselves are fine: 255 bytes, and 1 byte; surrounding blanks do not count.
  const long = `${uniqueUser('L')}-`.padEnd(255, 'x');
  assert.equal(long.length, 255);
  assert.equal(assertOk(await server.purchase(sku, long)).userId, long);
  const longPadded = `${uniqueUser('P')}-`.padEnd(255, 'y');
  assert.equal(assertOk(await server.purchase(sku, `  ${longPadded}  `)).userId, longPadded);
  const one = String.fromCharCode(65 + Math.floor(Math.random() * 26));
  assert.equal(assertOk(await server.purchase(sku, one)).userId, one);
  assert.equal((await server.sale(sku)).stock, 47);
});

test('a body that is not JSON -> 400 VALIDATION_ERROR field body', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const user = uniqueUser();
  for (const body of ['{"sku":', 'sku=' + sku, `{"sku":"${sku}"}}`, '']) {
    assertError(await server.api('POST', '/api/v1/purchases', { userId: user, body }), 400, 'VALIDATION_ERROR', { field: 'body' });
  }
  assertError(await server.api('POST', '/api/v1/purchases', { userId: user }), 400, 'VALIDATION_ERROR', { field: 'body' });
  assert.equal((await server.sale(sku)).stock, 5);
});

test('missing or non-string sku -> 400 VALIDATION_ERROR field sku', async () => {
  const user = uniqueUser();
  for (const body of [{}, { sku: 42 }, { sku: null }, { sku: ['A'] }, { sku: { s: 'A' } }, { qty: 1 }]) {
    assertError(await server.api('POST', '/api/v1/purchases', { userId: user, body }), 400, 'VALIDATION_ERROR', { field: 'sku' });
  }
});

test('qty other than 1 -> 400 VALIDATION_ERROR field qty', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const user = uniqueUser();
  for (const qty of [2, 0, -1, 1.5, '1', 100]) {
    assertError(await server.api('POST', '/api/v1/purchases', { userId: user, body: { sku, qty } }), 400, 'VALIDATION_ERROR', { field: 'qty' });
  }
  assert.equal((await server.sale(sku)).stock, 5);
  // None of these counted as the user's purchase.
  assertOk(await server.purchase(sku, user));
});

// Bodies of exactly 16 KiB, one byte more, and far more; with a Content-Length or chunked.
function bodies(sku) {
  const json = JSON.stringify({ sku });
  const exact = json + ' '.repeat(16 * 1024 - json.length);
  assert.equal(Buffer.byteLength(exact), 16384);
  return { exact, over: `${exact} `, huge: json + ' '.repeat(200 * 1024) };
}

for (const chunked of [false, true]) {
  const how = chunked ? 'chunked' : 'with a Content-Length';
  test(`a body of exactly 16 KiB is fine, 16 KiB + 1 byte -> 413 PAYLOAD_TOO_LARGE (${how})`, async () => {
    const { sku } = await server.createSale({ initialStock: 5 });
    const { exact, over } = bodies(sku);
    assertOk(await server.api('POST', '/api/v1/purchases', { userId: uniqueUser(), body: exact, chunked }));
    assertError(await server.api('POST', '/api/v1/purchases', { userId: uniqueUser(), body: over, chunked }), 413, 'PAYLOAD_TOO_LARGE');
    assert.equal((await server.sale(sku)).stock, 4);
    assertOk(await server.purchase(sku, uniqueUser()));
  });

  test(`a body far over 16 KiB (200 KiB) -> 413 PAYLOAD_TOO_LARGE in the JSON envelope (${how})`, async () => {
    const { sku } = await server.createSale({ initialStock: 5 });
    const { huge } = bodies(sku);
    assertError(await server.api('POST', '/api/v1/purchases', { userId: uniqueUser(), body: huge, chunked }), 413, 'PAYLOAD_TOO_LARGE');
    assert.equal((await server.sale(sku)).stock, 5);
    assertOk(await server.purchase(sku, uniqueUser()));
  });
}

test('GET /api/v1/purchases?sku= answers the same purchase object, or 404', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const user = uniqueUser();
  assertError(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: user }), 404, 'NOT_FOUND');
  const bought = assertOk(await server.purchase(sku, user));
  const got = assertOk(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: user }));
  assert.deepEqual(
    { purchaseNo: got.purchaseNo, sku: got.sku, userId: got.userId, purchasedAt: got.purchasedAt },
    { purchaseNo: bought.purchaseNo, sku: bought.sku, userId: bought.userId, purchasedAt: bought.purchasedAt },
  );
  assertError(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: uniqueUser() }), 404, 'NOT_FOUND');
  assertError(await server.api('GET', `/api/v1/purchases?sku=${uniqueSku('NOPE')}`, { userId: user }), 404, 'NOT_FOUND');
  assertError(await server.api('GET', `/api/v1/purchases?sku=${sku}`), 400, 'VALIDATION_ERROR', { field: 'X-User-Id' });
  assertError(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: '  ' }), 400, 'VALIDATION_ERROR', { field: 'X-User-Id' });
  assertError(await server.api('GET', '/api/v1/purchases', { userId: user }), 400, 'VALIDATION_ERROR', { field: 'sku' });
});

test('the purchaseNo is the same in the POST reply, the GET reply, the admin listing and the database', async () => {
  const { sku } = await server.createSale({ initialStock: 10 });
  const users = [uniqueUser(), uniqueUser(), uniqueUser()];
  const bought = [];
  for (const u of users) bought.push(assertOk(await server.purchase(sku, u)));
  const listing = await server.allPurchases(sku);
  const rows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(sku)} ORDER BY purchase_no`);
  const db = new Map(rows.map((r) => [r.user_id, r.purchase_no]));
  assert.equal(rows.length, 3);
  for (const b of bought) {
    const got = assertOk(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: b.userId }));
    assert.equal(got.purchaseNo, b.purchaseNo);
    assert.equal(listing.find((l) => l.userId === b.userId)?.purchaseNo, b.purchaseNo);
    assert.equal(db.get(b.userId), b.purchaseNo);
  }
});

test('purchaseNo is unique across sales', async () => {
  const seen = new Set();
  const user = uniqueUser();
  for (let i = 0; i < 5; i++) {
    const { sku } = await server.createSale({ initialStock: 3 });
    for (const u of [user, uniqueUser(), uniqueUser()]) {
      const p = assertOk(await server.purchase(sku, u));
      assert.ok(!seen.has(p.purchaseNo), `purchaseNo ${p.purchaseNo} given twice`);
      seen.add(p.purchaseNo);
    }
  }
  assert.equal(seen.size, 15);
});
