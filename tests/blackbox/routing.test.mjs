// Routing: unknown routes and wrong methods.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueSku, assertError, assertOk } from './lib/harness.mjs';

let server;
let sku;
before(async () => {
  server = await startServer();
  sku = (await server.createSale({ initialStock: 5 })).sku;
});
after(async () => {
  await server?.stop();
});

test('unknown routes -> 404 NOT_FOUND', async () => {
  // (GET / is the buyer page: pages.test.mjs)
  for (const [method, path] of [
    ['GET', '/nope'],
    ['POST', '/nope.html'],
    ['GET', '/api/v1'],
    ['GET', '/api/v1/nothing'],
    ['GET', '/api/v2/sales'],
    ['POST', '/api/v1/unknown'],
    ['GET', `/api/v1/products/${sku}/purchases/extra`],
    ['GET', `/api/v1/sales/${sku}/more`],
  ]) {
    const res = await server.api(method, path, { admin: true });
    assertError(res, 404, 'NOT_FOUND');
  }
});

test('a known route with a wrong method -> 405 METHOD_NOT_ALLOWED with an Allow header', async () => {
  const cases = [
    ['DELETE', '/api/v1/sales', 'GET'],
    ['POST', '/api/v1/sales', 'GET'],
    ['PUT', '/api/v1/purchases', 'POST'],
    ['DELETE', '/api/v1/purchases', 'POST'],
    ['POST', '/health', 'GET'],
    ['DELETE', '/metrics', 'GET'],
    ['PUT', '/api/v1/products', 'POST'],
    ['DELETE', '/api/v1/products', 'GET'],
    ['POST', `/api/v1/products/${sku}`, 'PUT'],
    ['PATCH', `/api/v1/products/${sku}`, 'DELETE'],
    ['POST', `/api/v1/products/${sku}/purchases`, 'GET'],
  ];
  for (const [method, path, allowed] of cases) {
    const res = await server.api(method, path, { admin: true, body: method === 'GET' || method === 'DELETE' ? undefined : {} });
    assertError(res, 405, 'METHOD_NOT_ALLOWED');
    assert.ok(res.headers.allow, `${method} ${path}: no Allow header`);
    assert.ok(res.headers.allow.split(/\s*,\s*/).includes(allowed), `${method} ${path}: Allow "${res.headers.allow}" lacks ${allowed}`);
    assert.ok(!res.headers.allow.split(/\s*,\s*/).includes(method), `${method} ${path}: Allow "${res.headers.allow}" lists ${method}`);
  }
  // Nothing happened to the sale.
  assert.equal((await server.sale(sku)).stock, 5);
  assertOk(await server.api('GET', `/api/v1/products/${sku}`, { admin: true }));
});

test('a query string does not change the route', async () => {
  const health = await server.api('GET', '/health?x=1');
  assert.equal(health.status, 200, health.text);
  assert.equal(health.json.status, 'ok');
  assert.equal(assertOk(await server.api('GET', `/api/v1/sales?sku=${sku}&x=1`)).sku, sku);
  assertError(await server.api('GET', `/nope?sku=${uniqueSku()}`), 404, 'NOT_FOUND');
});

test('an oversized header block is refused (4xx or a closed connection) and the server keeps serving', async () => {
  let res;
  try {
    res = await server.api('GET', '/api/v1/sales', { headers: { 'X-Padding': 'p'.repeat(1024 * 1024) } });
  } catch (error) {
    res = { error };
  }
  if (!res.error) assert.ok(res.status >= 400 && res.status < 500, `a 1 MiB header was answered ${res.status}`);
  assert.equal((await server.api('GET', '/health')).status, 200);
  assert.equal((await server.sale(sku)).stock, 5);
});
