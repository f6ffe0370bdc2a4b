// Rate limits: 429 RATE_LIMITED after exactly the burst with a correct Retry-After and retryAfterMs,
// recovery after that wait, per buyer and per client IP, on purchases and on login, decided before
// the engine; X-Forwarded-For believed only from --trusted-proxy; in distributed mode one limit
// for all instances, and a per-instance limit while Redis is unreachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueUser, assertOk, assertError, metricSum, MODE_NAME, waitFor } from './lib/harness.mjs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Asserts a 429 and returns its wait in ms, checked against the header.
function assertLimited(res) {
  const error = assertError(res, 429, 'RATE_LIMITED');
  assert.ok(Number.isInteger(error.retryAfterMs) && error.retryAfterMs > 0, res.text);
  assert.equal(res.headers['retry-after'], String(Math.ceil(error.retryAfterMs / 1000)), res.text);
  return error.retryAfterMs;
}

test('per buyer: the burst passes, the next is 429 with the wait, and after the wait one more passes', async () => {
  const server = await startServer({ args: ['--rate-limit-user', '1/s,burst=3'] });
  try {
    const { sku } = await server.createSale({ initialStock: 100 });
    const buyer = uniqueUser('burst');
    const started = Date.now();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await server.purchase(sku, buyer));
    assertOk(answers[0]);
    for (const res of answers.slice(1)) assert.equal(res.json.error.code, 'ALREADY_PURCHASED', res.text);
    const wait = assertLimited(await server.purchase(sku, buyer));
    // the bucket refills one token a second, counted from the first request
    assert.ok(wait <= 1000 && wait >= 1000 - (Date.now() - started), `retryAfterMs ${wait}`);
    assert.equal((await server.purchase(sku, buyer)).status, 429);
    // another buyer has a bucket of their own
    assertOk(await server.purchase(sku, uniqueUser('other')));
    // after the wait: exactly one more, then limited again
    await sleep(wait + 20);
    assert.equal((await server.purchase(sku, buyer)).json.error.code, 'ALREADY_PURCHASED');
    assertLimited(await server.purchase(sku, buyer));
    // lookups are not limited
    assertOk(await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: buyer }));
    // the engine decided only the six requests that were let through
    const text = (await server.api('GET', '/metrics')).text;
    assert.equal(metricSum(text, 'flashsale_rate_limited_total', { route: 'purchases' }), 3, text);
    assert.equal(metricSum(text, 'flashsale_purchase_outcomes_total'), 5, text);
  } finally {
    await server.stop();
  }
});

test('per client IP, from RATE_LIMIT_IP: every buyer from one address shares the bucket', async () => {
  const server = await startServer({ env: { RATE_LIMIT_IP: '1/min,burst=4' } });
  try {
    const { sku } = await server.createSale({ initialStock: 100 });
    for (let i = 0; i < 4; i++) assertOk(await server.purchase(sku, uniqueUser('ip')));
    const wait = assertLimited(await server.purchase(sku, uniqueUser('ip')));
    // one request a minute: the fifth may come a minute after the first
    assert.ok(wait > 50_000 && wait <= 60_000, `retryAfterMs ${wait}`);
    // X-Forwarded-For from an untrusted peer changes nothing
    assertLimited(await server.api('POST', '/api/v1/purchases', { userId: uniqueUser('ip'), headers: { 'X-Forwarded-For': '198.51.100.1' }, body: { sku } }));
  } finally {
    await server.stop();
  }
});

test('--trusted-proxy: X-Forwarded-For names the client, read from the right past trusted hops', async () => {
  const server = await startServer({ args: ['--rate-limit-ip', '1/min,burst=2', '--trusted-proxy', '10.0.0.0/8,127.0.0.1', '--trusted-proxy', '::1'] });
  try {
    const { sku } = await server.createSale({ initialStock: 100 });
    const from = (xff) => server.api('POST', '/api/v1/purchases', { userId: uniqueUser('xff'), headers: { 'X-Forwarded-For': xff }, body: { sku } });
    assertOk(await from('203.0.113.5'));
    assertOk(await from('203.0.113.5, 10.1.2.3'));
    assertLimited(await from('198.51.100.77, 203.0.113.5, 10.9.9.9'));
    // another client behind the same proxies has its own bucket; a spoofed left part changes nothing
    assertOk(await from('203.0.113.6'));
    assertOk(await from('203.0.113.5, 203.0.113.6'));
    assertLimited(await from('1.1.1.1, 203.0.113.6'));
    // no header: the proxy itself is the client
    assertOk(await server.purchase(sku, uniqueUser('direct')));
  } finally {
    await server.stop();
  }
});

test('login is limited per client IP and per username, before any password is checked', async () => {
  const server = await startServer({ args: ['--jwt-secret', 'rate-limit-secret-of-more-than-32-bytes', '--rate-limit-user', '1/min,burst=2', '--rate-limit-ip', '1/min,burst=5'] });
  try {
    const name = `rl_${uniqueUser('').slice(-10).replace(/[^A-Za-z0-9]/g, '')}`;
    assertOk(await server.api('POST', '/api/v1/auth/register', { body: { username: name, email: `${name}@example.com`, password: 'the right password', fullName: 'R L' } }), 201);
    const attempt = (username, password = 'a wrong password') => server.api('POST', '/api/v1/auth/login', { body: { username, password } });
    assertError(await attempt(name), 401, 'UNAUTHORIZED');
    assertError(await attempt(name.toUpperCase()), 401, 'UNAUTHORIZED');
    // the third try at this account is refused even with the right password, whatever the case
    assertLimited(await attempt(name, 'the right password'));
    // other usernames still get their tries, until the address is out of tokens
    assertError(await attempt('someone_else'), 401, 'UNAUTHORIZED');
    assertError(await attempt('someone_other'), 401, 'UNAUTHORIZED');
    assertError(await attempt('someone_third'), 401, 'UNAUTHORIZED');
    assertLimited(await attempt('someone_fourth'));
    const text = (await server.api('GET', '/metrics')).text;
    assert.equal(metricSum(text, 'flashsale_rate_limited_total', { route: 'login' }), 2, text);
  } finally {
    await server.stop();
  }
});

test('no limit unless one is set', async () => {
  const server = await startServer();
  try {
    const { sku } = await server.createSale({ initialStock: 100 });
    const buyer = uniqueUser('free');
    for (let i = 0; i < 30; i++) assert.notEqual((await server.purchase(sku, buyer)).status, 429);
  } finally {
    await server.stop();
  }
});

const distributedOnly = MODE_NAME !== 'distributed' && 'distributed mode only';

test('distributed: two instances draw from one bucket', { skip: distributedOnly }, async () => {
  const a = await startServer({ args: ['--rate-limit-user', '1/min,burst=3'] });
  const b = await startServer({ store: a.store, args: ['--rate-limit-user', '1/min,burst=3'] });
  try {
    const { sku } = await a.createSale({ initialStock: 100 });
    const buyer = uniqueUser('shared');
    assertOk(await a.purchase(sku, buyer));
    assert.equal((await b.purchase(sku, buyer)).json.error.code, 'ALREADY_PURCHASED');
    assert.equal((await a.purchase(sku, buyer)).json.error.code, 'ALREADY_PURCHASED');
    assertLimited(await b.purchase(sku, buyer));
    assertLimited(await a.purchase(sku, buyer));
  } finally {
    await b.stop();
    await a.stop();
  }
});

test('distributed: while Redis is unreachable each instance limits on its own, logs it once and counts it', { skip: distributedOnly }, async () => {
  const server = await startServer({ args: ['--jwt-secret', 'fallback-secret-of-more-than-32-bytes!', '--rate-limit-ip', '1/min,burst=3'] });
  try {
    await server.store.redisService('stop');
    const attempt = () => server.api('POST', '/api/v1/auth/login', { body: { username: 'nobody_here', password: 'wrong password' } });
    // login needs PostgreSQL only: three answers, then the instance's own limit
    for (let i = 0; i < 3; i++) assertError(await attempt(), 401, 'UNAUTHORIZED');
    assertLimited(await attempt());
    assertLimited(await attempt());
    const text = (await server.api('GET', '/metrics')).text;
    assert.ok(metricSum(text, 'flashsale_rate_limit_fallbacks_total') >= 5, text);
    assert.equal(server.stderr.match(/rate limits fall back/g)?.length, 1, server.stderr);
    await server.store.redisService('start');
    await waitFor(async () => (await server.api('GET', '/health')).status === 200, { what: 'Redis back' });
  } finally {
    await server.stop();
  }
});
