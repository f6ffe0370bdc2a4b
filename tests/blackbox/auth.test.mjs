// Identity in jwt mode: the buyer is the bearer token's sub, every refused token answers 401 with its
// own message and `WWW-Authenticate: Bearer error="invalid_token"`, and the admin API takes the key or
// a token with role admin (none: 401, a buyer's token: 403). HS256, RS256 and ES256, in both modes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, uniqueUser, uniqueSku, isoIn, assertOk, assertError, metricSum } from './lib/harness.mjs';
import { claims, keyPair, makeToken, nowSeconds } from './lib/jwt.mjs';

const SECRET = 'black-box-secret-with-more-than-32-bytes';
const rsa = keyPair('rsa');
const ec = keyPair('ec');
let keysDir;
let hs;
let rs;
let es;

before(async () => {
  keysDir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-keys-'));
  await writeFile(path.join(keysDir, 'rsa.pub'), rsa.publicPem);
  await writeFile(path.join(keysDir, 'ec.pub'), ec.publicPem);
  [hs, rs, es] = await Promise.all([
    startServer({ args: ['--auth', 'jwt', '--jwt-secret', SECRET, '--jwt-issuer', 'https://id.example', '--jwt-audience', 'flashsale'] }),
    startServer({ args: ['--auth', 'jwt', '--jwt-public-key', path.join(keysDir, 'rsa.pub')] }),
    startServer({ env: { AUTH_MODE: 'jwt', JWT_PUBLIC_KEY: path.join(keysDir, 'ec.pub') } }),
  ]);
});
after(async () => {
  await Promise.all([hs?.stop(), rs?.stop(), es?.stop()]);
  await rm(keysDir, { recursive: true, force: true });
});

const bearer = (token) => ({ Authorization: `Bearer ${token}` });
// A token the HS256 server accepts, with its issuer and audience.
const hsToken = (sub, extra = {}) => makeToken(claims(sub, { iss: 'https://id.example', aud: 'flashsale', ...extra }), { key: SECRET });

function assertInvalidToken(res, messagePattern) {
  const error = assertError(res, 401, 'UNAUTHORIZED');
  assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', res.text);
  if (messagePattern) assert.match(error.message, messagePattern);
  return error.message;
}

test('jwt mode: the buyer is the token sub, and X-User-Id is ignored', async () => {
  const { sku } = await hs.createSale({ initialStock: 5 });
  const buyer = uniqueUser('jwt');
  const res = await hs.api('POST', '/api/v1/purchases', { headers: { ...bearer(hsToken(buyer)), 'X-User-Id': 'someone-else' }, body: { sku } });
  const purchase = assertOk(res);
  assert.equal(purchase.userId, buyer);
  const mine = assertOk(await hs.api('GET', `/api/v1/purchases?sku=${sku}`, { headers: bearer(hsToken(buyer)) }));
  assert.equal(mine.purchaseNo, purchase.purchaseNo);
  // X-User-Id alone is no identity in jwt mode
  assertInvalidToken(await hs.purchase(sku, 'someone-else'), /bearer token is required/);
  assertInvalidToken(await hs.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: buyer }), /bearer token is required/);
  // the same buyer through a second token is still the same buyer
  const again = await hs.api('POST', '/api/v1/purchases', { headers: bearer(hsToken(buyer, { iat: nowSeconds() - 5 })), body: { sku } });
  assert.equal(again.json.error.code, 'ALREADY_PURCHASED');
});

test('every refused token has its own 401 message', async () => {
  const { sku } = await hs.createSale({ initialStock: 5 });
  const now = nowSeconds();
  const buyer = uniqueUser('bad');
  const cases = {
    expired: hsToken(buyer, { exp: now - 120, iat: now - 3600 }),
    notYetValid: hsToken(buyer, { nbf: now + 600 }),
    wrongSignature: makeToken(claims(buyer, { iss: 'https://id.example', aud: 'flashsale' }), { key: 'another-secret-that-is-also-32-bytes-long' }),
    algNone: makeToken(claims(buyer, { iss: 'https://id.example', aud: 'flashsale' }), { alg: 'none', header: { alg: 'none', typ: 'JWT' } }),
    missingSub: hsToken(undefined),
    missingExp: hsToken(buyer, { exp: undefined }),
    wrongIssuer: hsToken(buyer, { iss: 'https://evil.example' }),
    wrongAudience: hsToken(buyer, { aud: 'another-service' }),
    otherAlgorithm: makeToken(claims(buyer, { iss: 'https://id.example', aud: 'flashsale' }), { alg: 'RS256', key: rsa.privateKey }),
    malformed: 'not.a-token',
  };
  const messages = {};
  for (const [name, token] of Object.entries(cases)) {
    messages[name] = assertInvalidToken(await hs.api('POST', '/api/v1/purchases', { headers: bearer(token), body: { sku } }));
  }
  assert.match(messages.expired, /expired/);
  assert.match(messages.notYetValid, /not valid yet/);
  assert.match(messages.wrongSignature, /signature/);
  assert.match(messages.algNone, /none/);
  assert.match(messages.missingSub, /sub/);
  assert.match(messages.missingExp, /exp/);
  assert.match(messages.wrongIssuer, /issuer/);
  assert.match(messages.wrongAudience, /audience/);
  assert.match(messages.otherAlgorithm, /algorithm/);
  assert.equal(new Set(Object.values(messages)).size, Object.keys(messages).length, JSON.stringify(messages, null, 1));
  // other spellings of the header
  for (const authorization of ['Basic dXNlcjpwYXNz', 'Bearer', 'Bearer ', hsToken(buyer)]) {
    assertInvalidToken(await hs.api('POST', '/api/v1/purchases', { headers: { Authorization: authorization }, body: { sku } }));
  }
  assertOk(await hs.api('POST', '/api/v1/purchases', { headers: { Authorization: `bearer  ${hsToken(buyer)}` }, body: { sku } }));
  // nothing was bought by a refused token
  const product = await hs.product(sku);
  assert.equal(product.totalPurchases, 1);
});

test('a token stays valid for its exp plus the leeway only, also when it was cached', async () => {
  const { sku } = await hs.createSale({ initialStock: 5 });
  const buyer = uniqueUser('leeway');
  // expired 10 s ago: inside the 30 s leeway
  const token = hsToken(buyer, { exp: nowSeconds() - 10 });
  assertOk(await hs.api('POST', '/api/v1/purchases', { headers: bearer(token), body: { sku } }));
  // a token whose leeway ends in two seconds: accepted (and cached), then refused once past it
  const short = hsToken(uniqueUser('short'), { exp: nowSeconds() - 28 });
  assertOk(await hs.api('POST', '/api/v1/purchases', { headers: bearer(short), body: { sku } }));
  await new Promise((resolve) => setTimeout(resolve, 3100));
  assertInvalidToken(await hs.api('POST', '/api/v1/purchases', { headers: bearer(short), body: { sku } }), /expired/);
});

test('RS256: tokens of the key verify; the public key as an HMAC secret (algorithm confusion) does not', async () => {
  const { sku } = await rs.createSale({ initialStock: 5 });
  const buyer = uniqueUser('rsa');
  assertOk(await rs.api('POST', '/api/v1/purchases', { headers: bearer(makeToken(claims(buyer), { alg: 'RS256', key: rsa.privateKey })), body: { sku } }));
  const forged = makeToken(claims(uniqueUser('forger'), { role: 'admin' }), { alg: 'HS256', key: rsa.publicPem });
  assertInvalidToken(await rs.api('POST', '/api/v1/purchases', { headers: bearer(forged), body: { sku } }), /algorithm/);
  assertInvalidToken(await rs.api('GET', '/api/v1/products', { headers: bearer(forged) }), /algorithm/);
  const otherKey = keyPair('rsa');
  assertInvalidToken(
    await rs.api('POST', '/api/v1/purchases', { headers: bearer(makeToken(claims(buyer), { alg: 'RS256', key: otherKey.privateKey })), body: { sku } }),
    /signature/,
  );
  // no issuer or audience configured: they are not looked at
  assertOk(await rs.api('POST', '/api/v1/purchases', { headers: bearer(makeToken(claims(uniqueUser('rsa'), { iss: 'x', aud: 'y' }), { alg: 'RS256', key: rsa.privateKey })), body: { sku } }));
});

test('ES256: tokens of the key verify, from AUTH_MODE and JWT_PUBLIC_KEY', async () => {
  const { sku } = await es.createSale({ initialStock: 5 });
  const buyer = uniqueUser('ec');
  const purchase = assertOk(await es.api('POST', '/api/v1/purchases', { headers: bearer(makeToken(claims(buyer), { alg: 'ES256', key: ec.privateKey })), body: { sku } }));
  assert.equal(purchase.userId, buyer);
  assertInvalidToken(await es.api('POST', '/api/v1/purchases', { headers: bearer(makeToken(claims(buyer), { alg: 'RS256', key: rsa.privateKey })), body: { sku } }), /algorithm/);
});

test('admin: the key or a token with role admin; none is 401, a buyer token is 403', async () => {
  const body = () => ({ sku: uniqueSku('ROLE'), productName: 'Role product', initialStock: 3, startTime: isoIn(60_000), endTime: isoIn(3_600_000) });
  // the key, as in header mode
  assertOk(await hs.api('POST', '/api/v1/products', { admin: true, body: body() }), 201);
  // an admin token
  const admin = hsToken(uniqueUser('admin'), { role: 'admin' });
  const created = assertOk(await hs.api('POST', '/api/v1/products', { headers: bearer(admin), body: body() }), 201);
  assertOk(await hs.api('GET', `/api/v1/products/${created.sku}`, { headers: bearer(admin) }));
  assertOk(await hs.api('GET', `/api/v1/products/${created.sku}/purchases`, { headers: bearer(admin) }));
  // nothing at all
  const none = assertError(await hs.api('POST', '/api/v1/products', { body: body() }), 401, 'UNAUTHORIZED');
  assert.match(none.message, /X-Admin-Key|admin/);
  // a wrong key and no token
  assertError(await hs.api('GET', '/api/v1/products', { admin: 'wrong-key' }), 401, 'UNAUTHORIZED');
  // a buyer's token, and a role that is not exactly admin
  for (const role of [undefined, 'buyer', 'Admin', ['admin']]) {
    const token = hsToken(uniqueUser('buyer'), { role });
    assertError(await hs.api('POST', '/api/v1/products', { headers: bearer(token), body: body() }), 403, 'FORBIDDEN');
    assertError(await hs.api('DELETE', `/api/v1/products/${created.sku}`, { headers: bearer(token) }), 403, 'FORBIDDEN');
  }
  // an invalid admin token is a 401 with its reason
  assertInvalidToken(await hs.api('GET', '/api/v1/products', { headers: bearer(hsToken('root', { role: 'admin', exp: nowSeconds() - 3600 })) }), /expired/);
  // the product is still there
  assertOk(await hs.api('GET', `/api/v1/products/${created.sku}`, { admin: true }));
});

test('header mode: a bearer token grants nothing, X-User-Id is the buyer', async () => {
  const server = await startServer({ args: ['--jwt-secret', SECRET] });
  try {
    const { sku } = await server.createSale({ initialStock: 5 });
    const buyer = uniqueUser('hdr');
    const purchase = assertOk(await server.api('POST', '/api/v1/purchases', { headers: { 'X-User-Id': buyer, ...bearer(hsToken('other')) }, body: { sku } }));
    assert.equal(purchase.userId, buyer);
    assertError(await server.api('GET', '/api/v1/products', { headers: bearer(hsToken('root', { role: 'admin' })) }), 401, 'UNAUTHORIZED');
  } finally {
    await server.stop();
  }
});

test('repeated tokens are verified once per loop: the cache answers them', async () => {
  const { sku } = await rs.createSale({ initialStock: 100 });
  const token = makeToken(claims(uniqueUser('cached')), { alg: 'RS256', key: rsa.privateKey });
  const before = metricSum((await rs.api('GET', '/metrics')).text, 'flashsale_token_verifications_total') ?? 0;
  for (let i = 0; i < 40; i++) await rs.api('POST', '/api/v1/purchases', { headers: bearer(token), body: { sku } });
  const text = (await rs.api('GET', '/metrics')).text;
  const verified = metricSum(text, 'flashsale_token_verifications_total') - before;
  // two loop threads: at most one verification each
  assert.ok(verified >= 1 && verified <= 2, `${verified} verifications for 40 requests with one token`);
  assert.ok(metricSum(text, 'flashsale_token_cache_hits_total') >= 38, text);
});
