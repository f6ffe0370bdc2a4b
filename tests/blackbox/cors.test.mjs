// CORS (issue 11, item 6): off by default; with --cors-origin, preflights of known paths are
// answered and answers to a listed origin carry Access-Control-Allow-Origin; any other origin gets
// no CORS header, so its browser refuses the answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, httpRequest, runBinary, uniqueUser } from './lib/harness.mjs';

const SHOP = 'https://shop.example';
let server;
let plain;
let sku;
before(async () => {
  server = await startServer({ args: ['--cors-origin', `${SHOP}, http://localhost:3000`, '--cors-origin', 'http://127.0.0.1:5173'] });
  plain = await startServer();
  sku = (await server.createSale({ initialStock: 10 })).sku;
});
after(async () => {
  await server?.stop();
  await plain?.stop();
});

function preflight(target, origin, method = 'POST', headers = 'content-type,x-user-id') {
  return httpRequest(`${target.url}/api/v1/purchases`, {
    method: 'OPTIONS',
    headers: { Origin: origin, 'Access-Control-Request-Method': method, 'Access-Control-Request-Headers': headers },
  });
}

test('a preflight from a listed origin: 204 with the methods, the headers the API reads, a max-age, Vary: Origin', async () => {
  for (const origin of [SHOP, 'http://localhost:3000', 'http://127.0.0.1:5173']) {
    const res = await preflight(server, origin);
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], origin);
    assert.deepEqual(res.headers['access-control-allow-methods'].split(', ').sort(), ['GET', 'POST']);
    const allowed = res.headers['access-control-allow-headers'].toLowerCase().split(', ').sort();
    assert.deepEqual(allowed, ['authorization', 'content-type', 'x-admin-key', 'x-user-id']);
    assert.ok(Number(res.headers['access-control-max-age']) > 0);
    assert.match(res.headers.vary, /Origin/);
    assert.equal(res.text, '');
  }
  const admin = await httpRequest(`${server.url}/api/v1/products/${sku}`, {
    method: 'OPTIONS',
    headers: { Origin: SHOP, 'Access-Control-Request-Method': 'PUT' },
  });
  assert.equal(admin.status, 204);
  assert.deepEqual(admin.headers['access-control-allow-methods'].split(', ').sort(), ['DELETE', 'GET', 'PUT']);
});

test('answers to a listed origin carry Access-Control-Allow-Origin and expose Retry-After', async () => {
  const res = await httpRequest(`${server.url}/api/v1/purchases`, {
    method: 'POST',
    headers: { Origin: SHOP, 'X-User-Id': uniqueUser() },
    body: { sku },
  });
  assert.equal(res.status, 200);
  assert.equal(res.json.success, true);
  assert.equal(res.headers['access-control-allow-origin'], SHOP);
  assert.match(res.headers['access-control-expose-headers'], /Retry-After/);
  assert.match(res.headers.vary, /Origin/);
  const notFound = await httpRequest(`${server.url}/api/v1/nothing`, { headers: { Origin: SHOP } });
  assert.equal(notFound.status, 404);
  assert.equal(notFound.headers['access-control-allow-origin'], SHOP, 'errors are readable by the page too');
});

test('an origin not listed gets no CORS header, on the preflight or the answer', async () => {
  const pre = await preflight(server, 'https://evil.example');
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  assert.equal(pre.headers['access-control-allow-methods'], undefined);
  const res = await httpRequest(`${server.url}/api/v1/sales?sku=${sku}`, { headers: { Origin: 'https://evil.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['access-control-allow-origin'], undefined);
  // still marked as varying by Origin: a shared cache must not serve this answer to a listed origin
  assert.match(res.headers.vary, /Origin/);
  const prefix = await httpRequest(`${server.url}/api/v1/sales?sku=${sku}`, { headers: { Origin: `${SHOP}.evil.example` } });
  assert.equal(prefix.headers['access-control-allow-origin'], undefined);
});

test('a preflight of an unknown path is a 404', async () => {
  const res = await httpRequest(`${server.url}/api/v1/nothing`, {
    method: 'OPTIONS',
    headers: { Origin: SHOP, 'Access-Control-Request-Method': 'GET' },
  });
  assert.equal(res.status, 404);
});

test('by default there is no CORS: no header, and OPTIONS is not a method of any route', async () => {
  const pre = await preflight(plain, SHOP);
  assert.equal(pre.status, 405);
  assert.equal(pre.headers['access-control-allow-origin'], undefined);
  const res = await httpRequest(`${plain.url}/health`, { headers: { Origin: SHOP } });
  assert.equal(res.headers['access-control-allow-origin'], undefined);
  assert.equal(res.headers.vary, undefined);
});

test('--cors-origin * allows any origin; a malformed origin is a configuration error', async () => {
  const any = await startServer({ args: ['--cors-origin', '*'] });
  try {
    const res = await preflight(any, 'https://anywhere.example', 'GET');
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], '*');
  } finally {
    await any.stop();
  }
  for (const bad of ['shop.example', 'ftp://shop.example', 'https://shop.example/path']) {
    const run = await runBinary(['serve', '--demo', '--cors-origin', bad]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /cors origin/);
  }
});
