// The OpenAPI document (web/openapi.json, served at /api/openapi.json) against the server's real
// answers, so the two cannot drift:
//   - every operation the document lists is a route of the server and every route of the server
//     (`flashsale routes`) is in the document;
//   - every documented operation is called until each of its documented statuses has been seen
//     (except the few listed in UNPROVOKED with the reason), every answer's status must be one the
//     document lists for that operation, its Content-Type one of the documented media types, and a
//     JSON body must validate against the documented schema (ajv, JSON Schema 2020-12, which
//     OpenAPI 3.1 uses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { startServer, runBinary, uniqueSku, uniqueUser, isoIn } from './lib/harness.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOC_FILE = path.join(repoRoot, 'web', 'openapi.json');
const DOC_ID = 'https://flashsale.invalid/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// Documented statuses that a single server in this test cannot be made to answer, and why. Each
// entry must still be documented (a stale entry fails the test).
const UNPROVOKED = {
  'POST /api/v1/purchases 503': 'the store answers in time here (the fault tests provoke it)',
  'GET /api/v1/purchases 503': 'the store answers in time here',
  'GET /api/v1/sales 503': 'the store answers in time here',
  'POST /api/v1/products 503': 'the store answers in time here',
  'GET /api/v1/products 503': 'the store answers in time here',
  'GET /api/v1/products/{sku} 503': 'the store answers in time here',
  'PUT /api/v1/products/{sku} 503': 'the store answers in time here',
  'DELETE /api/v1/products/{sku} 503': 'the store answers in time here',
  'GET /api/v1/products/{sku}/purchases 503': 'the store answers in time here',
  'GET /health 503': 'a required check failing needs a stopped store (health.test.mjs)',
  'GET /metrics 503': 'the store answers in time here',
};




let doc;
let ajv;
let server;

before(async () => {
  doc = JSON.parse(await readFile(DOC_FILE, 'utf8'));
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, DOC_ID);
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

// ---- the document ----

function operations() {
  const out = [];
  for (const [route, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) if (item[method]) out.push({ method: method.toUpperCase(), route, op: item[method], item });
  }
  return out;
}

function pointer(...parts) {
  return parts.map((p) => String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('/');
}

// Follows a $ref to a component (responses may be shared through #/components/responses).
function deref(object) {
  let out = object;
  while (out && out.$ref) {
    const parts = out.$ref.replace(/^#\//, '').split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    out = parts.reduce((o, p) => o?.[p], doc);
  }
  return out;
}

function documentedResponse(method, route, status) {
  const op = doc.paths[route][method.toLowerCase()];
  const responses = op.responses ?? {};
  const key = String(status) in responses ? String(status) : `${String(status)[0]}XX` in responses ? `${String(status)[0]}XX` : 'default' in responses ? 'default' : null;
  return key === null ? null : { key, response: deref(responses[key]) };
}

const validators = new Map();
function validatorFor(method, route, key, mediaType) {
  const id = `${method} ${route} ${key} ${mediaType}`;
  if (!validators.has(id)) {
    // the schema as it sits in the document, so its $refs resolve against the document
    const ref = `${DOC_ID}#/${pointer('paths', route, method.toLowerCase(), 'responses', key)}`;
    const raw = doc.paths[route][method.toLowerCase()].responses[key];
    const base = raw.$ref ? `${DOC_ID}${raw.$ref}` : ref;
    validators.set(id, ajv.compile({ $ref: `${base}/${pointer('content', mediaType, 'schema')}` }));
  }
  return validators.get(id);
}

// ---- answers ----

const seen = new Map(); // "METHOD route status" -> count

// Checks one answer against the document and records its status as seen.
function check(method, route, res) {
  const label = `${method} ${route} -> ${res.status}`;
  const documented = documentedResponse(method, route, res.status);
  assert.ok(documented, `${label} is not documented (body: ${res.text.slice(0, 300)})`);
  const content = documented.response.content ?? {};
  const type = (res.headers['content-type'] ?? '').split(';')[0].trim();
  if (Object.keys(content).length === 0) {
    assert.ok(res.text === '' || res.status === 204, `${label}: documented without a body, got ${type}`);
  } else {
    const mediaType = Object.keys(content).find((m) => m.split(';')[0].trim() === type);
    assert.ok(mediaType, `${label}: Content-Type ${type} is not one of ${Object.keys(content).join(', ')}`);
    if (type === 'application/json' && content[mediaType].schema) {
      const validate = validatorFor(method, route, documented.key, mediaType);
      const ok = validate(JSON.parse(res.text));
      assert.ok(ok, `${label}: the body does not fit the documented schema:\n${JSON.stringify(validate.errors, null, 2)}\nbody: ${res.text.slice(0, 500)}`);
    }
  }
  const key = `${method} ${route} ${res.status}`;
  seen.set(key, (seen.get(key) ?? 0) + 1);
}

// Calls the server and checks the answer. path is the concrete path (with query), route the
// documented template it matches.
async function call(method, route, urlPath, { body, userId, admin, headers = {}, on = server } = {}) {
  const res = await on.api(method, urlPath, { body, userId, admin, headers });
  check(method, route, res);
  return res;
}

// The first bytes of a streamed answer (an event stream never ends on its own); with keep, the
// stream stays open and its request is returned to be destroyed later.
function callStream(method, route, urlPath, { base = server.url, keep = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${urlPath}`, { method, agent: false }, (res) => {
      res.once('data', (chunk) => {
        const out = { status: res.statusCode, headers: res.headers, text: '', req };
        if (!keep) req.destroy();
        try {
          check(method, route, { ...out, text: res.statusCode === 200 ? '' : chunk.toString() });
          resolve({ ...out, first: chunk.toString() });
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('error', (err) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end();
  });
}

// The answers of identity: the header-mode server has no accounts (404); a jwt-mode server with an
// HS256 secret has them, refuses a missing token (401) and a buyer's token on the admin API (403),
// and with one password hash at a time, answers bursts of registrations and logins with 503; another one
// limits each client address to a purchase and a login a minute (429).
async function provokeIdentity() {
  const account = { username: `doc${Date.now() % 1e9}`, email: `doc${Date.now() % 1e9}@example.test`, password: 'correct horse battery', fullName: 'Doc Umented' };
  const secret = randomBytes(32).toString('hex');
  await call('POST', '/api/v1/auth/register', '/api/v1/auth/register', { body: account });
  await call('POST', '/api/v1/auth/login', '/api/v1/auth/login', { body: { username: account.username, password: account.password } });

  const jwt = await startServer({ args: ['--auth', 'jwt', '--jwt-secret', secret, '--login-queue', '1'] });
  try {
    const on = jwt;
    const json = { 'Content-Type': 'application/json' };
    await call('POST', '/api/v1/auth/register', '/api/v1/auth/register', { on, body: account });
    await call('POST', '/api/v1/auth/register', '/api/v1/auth/register', { on, body: account });
    await call('POST', '/api/v1/auth/register', '/api/v1/auth/register', { on, body: { ...account, username: 'x' } });
    await call('POST', '/api/v1/auth/register', '/api/v1/auth/register', { on, body: 'x'.repeat(20_000), headers: json });
    const login = await call('POST', '/api/v1/auth/login', '/api/v1/auth/login', { on, body: { username: account.username, password: account.password } });
    await call('POST', '/api/v1/auth/login', '/api/v1/auth/login', { on, body: { username: account.username, password: 'wrong password!' } });
    await call('POST', '/api/v1/auth/login', '/api/v1/auth/login', { on, body: { username: account.username } });
    await call('POST', '/api/v1/auth/login', '/api/v1/auth/login', { on, body: 'x'.repeat(20_000), headers: json });
    // more hashes at once than the queue takes
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => on.api('POST', '/api/v1/auth/register', { body: { ...account, username: `${account.username}b${i}`, email: `b${i}${account.email}` } })));
    const busy = burst.filter((r) => r.status === 503);
    for (const res of burst) check('POST', '/api/v1/auth/register', res);
    assert.ok(busy.length > 0, 'a burst of registrations never met a full hashing queue');
    const logins = await Promise.all(Array.from({ length: 12 }, () => on.api('POST', '/api/v1/auth/login', { body: { username: account.username, password: account.password } })));
    for (const res of logins) check('POST', '/api/v1/auth/login', res);
    assert.ok(logins.some((r) => r.status === 503), 'a burst of logins never met a full hashing queue');
    const bearer = { Authorization: `Bearer ${login.json.data.token}` };
    const product = await jwt.createSale({ initialStock: 3 });
    await call('POST', '/api/v1/purchases', '/api/v1/purchases', { on, body: { sku: product.sku } });
    await call('GET', '/api/v1/purchases', `/api/v1/purchases?sku=${product.sku}`, { on });
    for (const [method, route, urlPath] of [
      ['GET', '/api/v1/products', '/api/v1/products'],
      ['POST', '/api/v1/products', '/api/v1/products'],
      ['GET', '/api/v1/products/{sku}', `/api/v1/products/${product.sku}`],
      ['PUT', '/api/v1/products/{sku}', `/api/v1/products/${product.sku}`],
      ['DELETE', '/api/v1/products/{sku}', `/api/v1/products/${product.sku}`],
      ['GET', '/api/v1/products/{sku}/purchases', `/api/v1/products/${product.sku}/purchases`],
    ]) {
      await call(method, route, urlPath, { on, headers: bearer, body: method === 'POST' || method === 'PUT' ? { productName: 'x' } : undefined });
    }
  } finally {
    await jwt.stop();
  }

  const limited = await startServer({ args: ['--rate-limit-ip', '1/min'] });
  try {
    const on = limited;
    const sale = await limited.createSale({ initialStock: 5 });
    for (let i = 0; i < 2; i++) await call('POST', '/api/v1/purchases', '/api/v1/purchases', { on, userId: uniqueUser(), body: { sku: sale.sku } });
  } finally {
    await limited.stop();
  }
  const limitedLogin = await startServer({ args: ['--auth', 'jwt', '--jwt-secret', secret, '--rate-limit-ip', '1/min'] });
  try {
    for (let i = 0; i < 2; i++) await call('POST', '/api/v1/auth/login', '/api/v1/auth/login', { on: limitedLogin, body: { username: 'nobody-here', password: 'some password' } });
  } finally {
    await limitedLogin.stop();
  }
  assert.ok(seen.has('POST /api/v1/purchases 429') && seen.has('POST /api/v1/auth/login 429'), 'the rate limits answered no 429');
}

// ---- the tests ----

test('the document is OpenAPI 3.1 and its own examples fit its schemas', () => {
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.ok(doc.info?.title && doc.info?.version, 'info.title and info.version');
  assert.ok(operations().length > 0, 'no operation documented');
  for (const { method, route, op } of operations()) {
    for (const [key, raw] of Object.entries(op.responses ?? {})) {
      for (const [mediaType, media] of Object.entries(deref(raw).content ?? {})) {
        if (!media.schema || !mediaType.startsWith('application/json')) continue;
        const validate = validatorFor(method, route, key, mediaType);
        const examples = [...(media.example !== undefined ? [media.example] : []), ...Object.values(media.examples ?? {}).map((e) => deref(e).value)];
        for (const example of examples) {
          assert.ok(validate(example), `${method} ${route} ${key}: an example does not fit its schema: ${JSON.stringify(validate.errors)}`);
        }
      }
    }
  }
});

test('/api/openapi.json is web/openapi.json', async () => {
  const res = await server.api('GET', '/api/openapi.json');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.text), doc);
});

// The server's routes as `flashsale routes` lists them, less the two kinds the document cannot
// or need not show: HEAD beside a GET (the same answer without its body, pages.test.mjs), and the
// catch-all of the pages' files, GET|HEAD /{file*} (an OpenAPI path segment is one segment; every
// file is checked by pages.test.mjs).
async function serverRoutes() {
  const listed = await runBinary(['routes']);
  assert.equal(listed.code, 0, listed.stderr);
  const rows = listed.stdout.trim().split('\n').filter((l) => l !== '');
  const all = new Set(rows);
  return new Set(rows.filter((r) => !r.endsWith(' /{file*}') && !(r.startsWith('HEAD ') && all.has(`GET ${r.slice(5)}`))));
}

test('the document and the server list the same routes', async () => {
  const server = await serverRoutes();
  const documented = new Set(operations().map(({ method, route }) => `${method} ${route}`));
  const undocumented = [...server].filter((r) => !documented.has(r));
  const unserved = [...documented].filter((r) => !server.has(r));
  assert.deepEqual(undocumented, [], 'routes of the server missing from the document');
  assert.deepEqual(unserved, [], 'documented routes the server does not have');
});

test('every documented answer the server can give fits the document', async () => {
  const admin = true;
  const json = { 'Content-Type': 'application/json' };
  // sales in each state
  const live = await server.createSale({ initialStock: 2 });
  const upcoming = await server.createSale({ initialStock: 5, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const soldOut = await server.createSale({ initialStock: 1 });
  const ended = await server.createSale({ initialStock: 3, startTime: isoIn(-7_200_000), endTime: isoIn(-3_600_000) });
  const buyer = uniqueUser('doc');

  // public
  await call('GET', '/api/v1/sales', '/api/v1/sales');
  await call('GET', '/api/v1/sales', `/api/v1/sales?sku=${live.sku}`);
  await call('GET', '/api/v1/sales', '/api/v1/sales?sku=NO-SUCH-SALE');
  await call('GET', '/api/v1/sales', '/api/v1/sales?sku=bad%20sku!');
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: buyer, body: { sku: live.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: buyer, body: { sku: live.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: { sku: soldOut.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: { sku: soldOut.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: { sku: upcoming.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: { sku: ended.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: { sku: 'NO-SUCH-SALE' } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { body: { sku: live.sku } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: { sku: live.sku, qty: 2 } });
  await call('POST', '/api/v1/purchases', '/api/v1/purchases', { userId: uniqueUser(), body: 'x'.repeat(20_000), headers: json });
  await call('GET', '/api/v1/purchases', `/api/v1/purchases?sku=${live.sku}`, { userId: buyer });
  await call('GET', '/api/v1/purchases', `/api/v1/purchases?sku=${live.sku}`, { userId: uniqueUser() });
  await call('GET', '/api/v1/purchases', '/api/v1/purchases', { userId: buyer });
  await call('GET', '/api/v1/info', '/api/v1/info');
  await call('GET', '/health', '/health');
  await call('GET', '/metrics', '/metrics');

  // admin
  const sku = uniqueSku('DOC');
  const fields = { sku, productName: 'Documented', initialStock: 4, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) };
  await call('POST', '/api/v1/products', '/api/v1/products', { admin, body: fields });
  // the same create again is a retry (201); the same sku with other fields a conflict
  await call('POST', '/api/v1/products', '/api/v1/products', { admin, body: fields });
  await call('POST', '/api/v1/products', '/api/v1/products', { admin, body: { ...fields, productName: 'Another' } });
  await call('POST', '/api/v1/products', '/api/v1/products', { admin, body: { ...fields, sku: 'bad sku!' } });
  await call('POST', '/api/v1/products', '/api/v1/products', { body: fields });
  await call('POST', '/api/v1/products', '/api/v1/products', { admin, body: 'x'.repeat(20_000), headers: json });
  await call('GET', '/api/v1/products', '/api/v1/products', { admin });
  await call('GET', '/api/v1/products', '/api/v1/products');
  await call('GET', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { admin });
  await call('GET', '/api/v1/products/{sku}', `/api/v1/products/${sku}`);
  await call('GET', '/api/v1/products/{sku}', '/api/v1/products/NO-SUCH-SALE', { admin });
  await call('PUT', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { admin, body: { productName: 'Renamed' } });
  await call('PUT', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { admin, body: { initialStock: 0 } });
  await call('PUT', '/api/v1/products/{sku}', `/api/v1/products/${live.sku}`, { admin, body: { productName: 'Too late' } });
  await call('PUT', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { body: { productName: 'x' } });
  await call('PUT', '/api/v1/products/{sku}', '/api/v1/products/NO-SUCH-SALE', { admin, body: { productName: 'x' } });
  await call('PUT', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { admin, body: 'x'.repeat(20_000), headers: json });
  await call('GET', '/api/v1/products/{sku}/purchases', `/api/v1/products/${live.sku}/purchases?limit=1`, { admin });
  await call('GET', '/api/v1/products/{sku}/purchases', `/api/v1/products/${live.sku}/purchases?format=csv`, { admin });
  await call('GET', '/api/v1/products/{sku}/purchases', `/api/v1/products/${live.sku}/purchases?limit=0`, { admin });
  await call('GET', '/api/v1/products/{sku}/purchases', `/api/v1/products/${live.sku}/purchases`);
  await call('GET', '/api/v1/products/{sku}/purchases', '/api/v1/products/NO-SUCH-SALE/purchases', { admin });
  await call('DELETE', '/api/v1/products/{sku}', `/api/v1/products/${sku}`);
  await call('DELETE', '/api/v1/products/{sku}', `/api/v1/products/${sku}?saleId=x`, { admin });
  await call('DELETE', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { admin });
  await call('DELETE', '/api/v1/products/{sku}', `/api/v1/products/${sku}`, { admin });

  // live events, and beyond --max-subscribers
  const events = await callStream('GET', '/api/v1/sales/events', `/api/v1/sales/events?sku=${live.sku}`);
  assert.match(events.first, /^(retry|id|data|:)/m);
  await callStream('GET', '/api/v1/sales/events', '/api/v1/sales/events?sku=bad%20sku!');
  const small = await startServer({ args: ['--max-subscribers', '1'] });
  try {
    const held = await callStream('GET', '/api/v1/sales/events', '/api/v1/sales/events', { base: small.url, keep: true });
    const refused = await callStream('GET', '/api/v1/sales/events', '/api/v1/sales/events', { base: small.url });
    assert.equal(refused.status, 503);
    held.req.destroy();
  } finally {
    await small.stop();
  }
  // the pages, the document itself and the files, fresh and revalidated
  const pages = [['/', '/'], ['/admin', '/admin'], ['/docs', '/docs'], ['/api/openapi.json', '/api/openapi.json']];
  for (const folder of ['css', 'js']) {
    const file = (await readdir(path.join(repoRoot, 'web', folder))).find((f) => !f.startsWith('.'));
    pages.push([`/${folder}/{file}`, `/${folder}/${file}`]);
    await call('GET', `/${folder}/{file}`, `/${folder}/no-such-file.${folder}`);
  }
  for (const [route, urlPath] of pages) {
    const res = await call('GET', route, urlPath);
    await call('GET', route, urlPath, { headers: { 'If-None-Match': res.headers.etag } });
  }

  // identity: jwt mode, accounts, rate limits
  await provokeIdentity();

  // every documented status was seen, or is listed with a reason
  const missing = [];
  for (const { method, route, op } of operations()) {
    for (const key of Object.keys(op.responses ?? {})) {
      if (!/^\d{3}$/.test(key)) continue;
      const id = `${method} ${route} ${key}`;
      if (!seen.has(id) && !(id in UNPROVOKED)) missing.push(id);
    }
  }
  assert.deepEqual(missing, [], 'documented answers this test never saw the server give (provoke them, or list them in UNPROVOKED with the reason)');
  for (const id of Object.keys(UNPROVOKED)) {
    const [method, route, status] = id.split(' ');
    if (doc.paths[route]?.[method.toLowerCase()]) {
      assert.ok(String(status) in (doc.paths[route][method.toLowerCase()].responses ?? {}), `UNPROVOKED lists ${id}, which the document does not have`);
    }
  }
});
