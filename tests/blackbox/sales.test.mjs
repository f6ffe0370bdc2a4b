// Public sale status: GET /api/v1/sales, states, end reasons and their transitions in time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueSku, uniqueUser, isoIn, ISO_MS_Z, assertOk, assertError, waitFor } from './lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

const SALE_KEYS = ['sku', 'productName', 'state', 'endReason', 'stock', 'initialStock', 'startTime', 'endTime'];

function assertSaleShape(sale) {
  for (const key of SALE_KEYS) assert.ok(key in sale, `sale lacks ${key}: ${JSON.stringify(sale)}`);
  assert.match(sale.startTime, ISO_MS_Z);
  assert.match(sale.endTime, ISO_MS_Z);
  assert.equal(typeof sale.stock, 'number');
  assert.equal(typeof sale.initialStock, 'number');
}

test('an ACTIVE sale: every field, as created, with Cache-Control: public, max-age=1', async () => {
  const sku = uniqueSku('ACT');
  const startTime = new Date(Date.now() - 60_000).toISOString();
  const endTime = new Date(Date.now() + 3_600_000).toISOString();
  await server.createSale({ sku, productName: 'Limited sneaker', initialStock: 7, startTime, endTime });

  const res = await server.api('GET', `/api/v1/sales?sku=${sku}`);
  const sale = assertOk(res);
  assert.equal(res.headers['cache-control'], 'public, max-age=1');
  assertSaleShape(sale);
  assert.deepEqual(
    { sku: sale.sku, productName: sale.productName, state: sale.state, endReason: sale.endReason, stock: sale.stock, initialStock: sale.initialStock, startTime: sale.startTime, endTime: sale.endTime },
    { sku, productName: 'Limited sneaker', state: 'ACTIVE', endReason: null, stock: 7, initialStock: 7, startTime, endTime },
  );
});

test('an UPCOMING sale (start in the future)', async () => {
  const sku = uniqueSku('UPC');
  await server.createSale({ sku, initialStock: 3, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const sale = await server.sale(sku);
  assertSaleShape(sale);
  assert.equal(sale.state, 'UPCOMING');
  assert.equal(sale.endReason, null);
  assert.equal(sale.stock, 3);
});

test('a window entirely in the past is accepted and is ENDED with TIME_EXPIRED', async () => {
  const sku = uniqueSku('EXP');
  await server.createSale({ sku, initialStock: 4, startTime: isoIn(-7_200_000), endTime: isoIn(-3_600_000) });
  const sale = await server.sale(sku);
  assertSaleShape(sale);
  assert.equal(sale.state, 'ENDED');
  assert.equal(sale.endReason, 'TIME_EXPIRED');
  assert.equal(sale.stock, 4);
});

test('the last unit sold ends the sale with SOLD_OUT', async () => {
  const sku = uniqueSku('SO');
  await server.createSale({ sku, initialStock: 2 });
  assertOk(await server.purchase(sku, uniqueUser()));
  let sale = await server.sale(sku);
  assert.equal(sale.state, 'ACTIVE');
  assert.equal(sale.stock, 1);
  assert.equal(sale.endReason, null);
  assertOk(await server.purchase(sku, uniqueUser()));
  sale = await server.sale(sku);
  assert.equal(sale.state, 'ENDED');
  assert.equal(sale.endReason, 'SOLD_OUT');
  assert.equal(sale.stock, 0);
  assert.equal(sale.initialStock, 2);
});

test('an unknown sku is 404 NOT_FOUND', async () => {
  assertError(await server.api('GET', `/api/v1/sales?sku=${uniqueSku('NOPE')}`), 404, 'NOT_FOUND');
});

test('without sku: an array of all sales, including every created one', async () => {
  const skus = [uniqueSku('L'), uniqueSku('L'), uniqueSku('L')];
  await server.createSale({ sku: skus[0], initialStock: 1 });
  await server.createSale({ sku: skus[1], initialStock: 2, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  await server.createSale({ sku: skus[2], initialStock: 3, startTime: isoIn(-7_200_000), endTime: isoIn(-3_600_000) });

  const res = await server.api('GET', '/api/v1/sales');
  const list = assertOk(res);
  assert.equal(res.headers['cache-control'], 'public, max-age=1');
  assert.ok(Array.isArray(list), res.text);
  const bySku = new Map(list.map((s) => [s.sku, s]));
  assert.equal(new Set(list.map((s) => s.sku)).size, list.length, 'a sku listed twice');
  for (const sku of skus) assert.ok(bySku.has(sku), `${sku} missing from the list`);
  for (const s of list) assertSaleShape(s);
  assert.deepEqual(skus.map((s) => [bySku.get(s).state, bySku.get(s).initialStock]), [['ACTIVE', 1], ['UPCOMING', 2], ['ENDED', 3]]);
  assert.equal(bySku.get(skus[2]).endReason, 'TIME_EXPIRED');
});

test('input times with an offset are normalised to UTC with milliseconds', async () => {
  const sku = uniqueSku('TZ');
  await server.createSale({ sku, startTime: '2030-01-01T02:00:00+02:00', endTime: '2030-01-02T00:00:00.5Z' });
  const sale = await server.sale(sku);
  assert.equal(sale.startTime, '2030-01-01T00:00:00.000Z');
  assert.equal(sale.endTime, '2030-01-02T00:00:00.500Z');
});

test('states follow the clock: UPCOMING -> ACTIVE -> ENDED/TIME_EXPIRED, and the purchase checks follow', async () => {
  // Two sales with a short window starting ~1.5 s from now and lasting ~2 s:
  //  - A has stock 1: it sells out while active, then its window passes.
  //  - B keeps its stock: it ends by time.
  const now = Date.now();
  const startTime = new Date(now + 1500).toISOString();
  const endTime = new Date(now + 3500).toISOString();
  const a = uniqueSku('CLKA');
  const b = uniqueSku('CLKB');
  await server.createSale({ sku: a, initialStock: 1, startTime, endTime });
  await server.createSale({ sku: b, initialStock: 5, startTime, endTime });
  const buyer = uniqueUser('early');

  // Before the start: UPCOMING, and a purchase is SALE_NOT_ACTIVE without consuming stock.
  // (The window is measured from our clock; if this machine is slow the sale may already be live,
  // so only assert the upcoming behaviour while we are clearly before the start.)
  const sale0 = await server.sale(a);
  if (Date.now() < now + 1000) {
    assert.equal(sale0.state, 'UPCOMING');
    assertError(await server.purchase(a, buyer), 200, 'SALE_NOT_ACTIVE');
    assert.equal((await server.sale(a)).stock, 1);
  }

  await waitFor(async () => (await server.sale(a)).state === 'ACTIVE', { timeoutMs: 5000, what: 'sale A ACTIVE' });
  const bought = assertOk(await server.purchase(a, buyer));
  assertError(await server.purchase(a, uniqueUser()), 200, 'SOLD_OUT');
  const soldOut = await server.sale(a);
  assert.equal(soldOut.state, 'ENDED');
  assert.equal(soldOut.endReason, 'SOLD_OUT');

  // After the end: a new buyer is told SALE_NOT_ACTIVE (the window is checked before the stock),
  // the earlier buyer still ALREADY_PURCHASED (checked before the window) with the same purchaseNo.
  await waitFor(async () => (await server.purchase(a, uniqueUser())).json?.error?.code === 'SALE_NOT_ACTIVE', {
    timeoutMs: 6000,
    intervalMs: 100,
    what: 'SALE_NOT_ACTIVE after the end of the window',
  });
  assertError(await server.purchase(a, buyer), 200, 'ALREADY_PURCHASED', { purchaseNo: bought.purchaseNo });

  const ended = await waitFor(async () => {
    const s = await server.sale(b);
    return s.state === 'ENDED' && s;
  }, { timeoutMs: 6000, intervalMs: 100, what: 'sale B ENDED' });
  assert.equal(ended.endReason, 'TIME_EXPIRED');
  assert.equal(ended.stock, 5);
  assertError(await server.purchase(b, uniqueUser()), 200, 'SALE_NOT_ACTIVE');
  assert.equal((await server.sale(b)).stock, 5);
});
