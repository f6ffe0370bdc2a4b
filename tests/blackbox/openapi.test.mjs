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
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

// Documented answers of identity (JWT mode, rate limits, admin tokens), which arrive with its
// branch: left out while the server has no POST /api/v1/auth/login.
const WAITING_FOR_IDENTITY = [
  'GET /api/v1/purchases 401', 'POST /api/v1/purchases 401', 'POST /api/v1/purchases 429',
  'GET /api/v1/products 403', 'POST /api/v1/products 403', 'GET /api/v1/products/{sku} 403',
  'PUT /api/v1/products/{sku} 403', 'DELETE /api/v1/products/{sku} 403', 'GET /api/v1/products/{sku}/purchases 403',
];

// Until the web work lands the document may be missing; then there is nothing to compare.
const skip = !existsSync(DOC_FILE) && 'web/openapi.json is not there yet';

// Documented routes whose server side is on another branch: while the server lacks one, it is left
// out of both comparisons (and said in the test's output), never silently once it is there.
const WAITING = {
  'POST /api/v1/auth/register': 'branch identity',
  'POST /api/v1/auth/login': 'branch identity',
};

let doc;
let ajv;
let server;

before(async () => {
  if (skip) return;
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
async function call(method, route, urlPath, { body, userId, admin, headers = {} } = {}) {
  const res = await server.api(method, urlPath, { body, userId, admin, headers });
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

// ---- the tests ----

test('the document is OpenAPI 3.1 and its own examples fit its schemas', { skip }, () => {
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

test('/api/openapi.json is web/openapi.json', { skip }, async () => {
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

// The documented operations, less those still WAITING for a server that lacks them.
async function servedOperations(t) {
  const server = await serverRoutes();
  return operations().filter(({ method, route }) => {
    const id = `${method} ${route}`;
    if (server.has(id) || !(id in WAITING)) return true;
    t.diagnostic(`${id} is documented but waits for ${WAITING[id]}`);
    return false;
  });
}

test('the document and the server list the same routes', { skip }, async (t) => {
  const server = await serverRoutes();
  const documented = new Set((await servedOperations(t)).map(({ method, route }) => `${method} ${route}`));
  const undocumented = [...server].filter((r) => !documented.has(r));
  const unserved = [...documented].filter((r) => !server.has(r));
  assert.deepEqual(undocumented, [], 'routes of the server missing from the document');
  assert.deepEqual(unserved, [], 'documented routes the server does not have');
});

test('every documented answer the server can give fits the document', { skip }, async (t) => {
  const served = new Set((await servedOperations(t)).map(({ method, route }) => `${method} ${route}`));
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

  // live events, when documented
  if (served.has('GET /api/v1/sales/events')) {
    const events = await callStream('GET', '/api/v1/sales/events', `/api/v1/sales/events?sku=${live.sku}`);
    assert.match(events.first, /^(retry|id|data|:)/m);
    await callStream('GET', '/api/v1/sales/events', '/api/v1/sales/events?sku=bad%20sku!');
    // beyond --max-subscribers
    const small = await startServer({ args: ['--max-subscribers', '1'] });
    try {
      const held = await callStream('GET', '/api/v1/sales/events', '/api/v1/sales/events', { base: small.url, keep: true });
      const refused = await callStream('GET', '/api/v1/sales/events', '/api/v1/sales/events', { base: small.url });
      assert.equal(refused.status, 503);
      held.req.destroy();
    } finally {
      await small.stop();
    }
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

  // every documented status was seen, or is listed with a reason
  const missing = [];
  const identityLanded = served.has('POST /api/v1/auth/login');
  if (!identityLanded) t.diagnostic(`waiting for branch identity: ${WAITING_FOR_IDENTITY.join(', ')}`);
  for (const { method, route, op } of operations()) {
    if (!served.has(`${method} ${route}`)) continue;
    for (const key of Object.keys(op.responses ?? {})) {
      if (!/^\d{3}$/.test(key)) continue;
      const id = `${method} ${route} ${key}`;
      if (!identityLanded && WAITING_FOR_IDENTITY.includes(id)) continue;
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
