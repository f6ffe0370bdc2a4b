// The pages and their files: web/ compiled into the binary and served with ETag/304,
// Cache-Control, gzip, the Content-Security-Policy on HTML and HEAD; --web-root serving a directory
// instead, without ever leaving it; and GET /api/v1/info.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { startServer, runBinary, freePort, assertError } from './lib/harness.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WEB = path.join(repoRoot, 'web');

// CONTRACT: the policy of every HTML answer.
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.webmanifest': 'application/manifest+json',
};
const ROUTES = { '/': 'index.html', '/admin': 'admin.html', '/docs': 'docs.html', '/api/openapi.json': 'openapi.json' };

// Every file the build embeds: web/ without dot files and dot directories.
async function embeddedFiles(dir = WEB, prefix = '') {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) out.push(...(await embeddedFiles(path.join(dir, entry.name), `${prefix}/${entry.name}`)));
    else if (entry.isFile()) out.push(`${prefix}/${entry.name}`);
  }
  return out;
}

// The folders of web/ the route table serves by name (GET /css/{file}, ...); any other file must
// have a route of its own (ROUTES), or the server would carry bytes nobody can fetch.
const FOLDERS = ['/css/', '/js/'];
const ROUTE_OF = Object.fromEntries(Object.entries(ROUTES).map(([route, file]) => [`/${file}`, route]));

// Every embedded file as {file, url}: the path in web/ and where the server serves it.
async function webFiles() {
  return (await embeddedFiles()).map((file) => {
    const url = ROUTE_OF[file] ?? (FOLDERS.some((f) => file.startsWith(f) && !file.slice(f.length).includes('/')) ? file : null);
    assert.ok(url, `web${file} is compiled in but no route serves it (a new folder needs its rows in src/api/api.c)`);
    return { file, url };
  });
}

// One raw request: the path goes out exactly as given (no normalisation), the body as bytes.
function raw(url, urlPath, { method = 'GET', headers = {} } = {}) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: urlPath, method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function expectedCache(file) {
  return /\.(html|json)$/.test(file) ? 'no-cache' : 'public, max-age=300';
}

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('every file of web/ is served from the binary with its type, a strong ETag and the security headers', async (t) => {
  const files = await webFiles();
  if (files.length === 0) return t.skip('web/ is empty');
  for (const { file, url } of files) {
    const bytes = await readFile(path.join(WEB, file));
    const res = await raw(server.url, url);
    assert.equal(res.status, 200, file);
    assert.deepEqual(res.body, bytes, `${file}: the bytes of web${file}`);
    assert.equal(res.headers['content-type'], TYPES[path.extname(file)], file);
    assert.match(res.headers.etag, /^"[0-9a-f]{32}"$/, `${file}: a strong ETag`);
    assert.equal(res.headers['cache-control'], expectedCache(file), file);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', file);
    assert.equal(res.headers['referrer-policy'], 'same-origin', file);
    assert.equal(res.headers['content-security-policy'], file.endsWith('.html') ? CSP : undefined, file);
    assert.equal(Number(res.headers['content-length']), bytes.length, file);
  }
});

test('If-None-Match with the ETag answers 304 without a body; another ETag gets the file', async (t) => {
  const files = await webFiles();
  if (files.length === 0) return t.skip('web/ is empty');
  for (const { file, url } of files) {
    const first = await raw(server.url, url);
    for (const value of [first.headers.etag, `W/${first.headers.etag}`, `"nope", ${first.headers.etag}`, '*']) {
      const again = await raw(server.url, url, { headers: { 'If-None-Match': value } });
      assert.equal(again.status, 304, `${file} with If-None-Match: ${value}`);
      assert.equal(again.body.length, 0);
      assert.equal(again.headers.etag, first.headers.etag);
      assert.equal(again.headers['cache-control'], expectedCache(file));
    }
    const other = await raw(server.url, url, { headers: { 'If-None-Match': '"0123456789abcdef0123456789abcdef"' } });
    assert.equal(other.status, 200, file);
  }
});

test('gzip when accepted: a smaller copy made at build time, its own ETag, Vary on both answers', async (t) => {
  const files = await webFiles();
  if (files.length === 0) return t.skip('web/ is empty');
  let compressed = 0;
  for (const { file, url } of files) {
    const bytes = await readFile(path.join(WEB, file));
    const plain = await raw(server.url, url, { headers: { 'Accept-Encoding': 'identity' } });
    const zipped = await raw(server.url, url, { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    assert.equal(plain.headers['content-encoding'], undefined, file);
    if (zipped.headers['content-encoding'] === undefined) {
      assert.equal(zipped.headers.vary, undefined, `${file}: no gzip copy, so nothing varies`);
      assert.deepEqual(zipped.body, bytes);
      continue;
    }
    compressed += 1;
    assert.equal(zipped.headers['content-encoding'], 'gzip', file);
    assert.equal(zipped.headers.vary, 'Accept-Encoding', file);
    assert.equal(plain.headers.vary, 'Accept-Encoding', file);
    assert.ok(zipped.body.length < bytes.length, `${file}: the copy is smaller`);
    assert.deepEqual(gunzipSync(zipped.body), bytes, `${file}: the copy inflates to the file`);
    assert.notEqual(zipped.headers.etag, plain.headers.etag, `${file}: another representation, another ETag`);
    const revalidated = await raw(server.url, url, { headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': zipped.headers.etag } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers.etag, zipped.headers.etag);
    const refused = await raw(server.url, url, { headers: { 'Accept-Encoding': 'gzip;q=0, br' } });
    assert.equal(refused.headers['content-encoding'], undefined, `${file}: q=0 refuses gzip`);
  }
  // the pages are text of a few kilobytes at least: some of them must be worth compressing
  assert.ok(compressed > 0, 'no file of web/ has a gzip copy');
});

test('HEAD answers the headers of GET without the body', async (t) => {
  const files = await webFiles();
  if (files.length === 0) return t.skip('web/ is empty');
  for (const { file, url } of files) {
    const get = await raw(server.url, url);
    const head = await raw(server.url, url, { method: 'HEAD' });
    assert.equal(head.status, 200, file);
    assert.equal(head.body.length, 0, file);
    for (const name of ['content-type', 'content-length', 'etag', 'cache-control', 'content-security-policy', 'x-content-type-options']) {
      assert.equal(head.headers[name], get.headers[name], `${file}: ${name}`);
    }
  }
});

for (const [route, file] of Object.entries(ROUTES)) {
  test(`GET ${route} is web/${file}`, { skip: !existsSync(path.join(WEB, file)) && `web/${file} is not there yet` }, async () => {
    const res = await raw(server.url, route);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, await readFile(path.join(WEB, file)));
    assert.equal(res.headers['content-type'], TYPES[path.extname(file)]);
    assert.equal(res.headers['cache-control'], 'no-cache');
    if (file.endsWith('.html')) assert.equal(res.headers['content-security-policy'], CSP);
    const post = await raw(server.url, route, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });
}

test('paths that are no file: the JSON 404 of the API', async () => {
  // index.html and friends are served by their routes only; a folder without rows is not served
  const paths = ['/nope.html', '/css/nope.css', '/js/nope.js', '/index.html', '/admin.html', '/openapi.json', '/index.htm',
    '/.hidden', '/css/.hidden', '/api/v1/nothing', '/api/index.html', '/web/index.html', '/img/logo.svg', '/css/sub/x.css'];
  for (const p of paths) {
    const res = await server.api('GET', p);
    assertError(res, 404, 'NOT_FOUND');
  }
});

test('GET /api/v1/info: the server time (for the clock offset), the identity mode and the version, never cached', async () => {
  const meson = await readFile(path.join(repoRoot, 'meson.build'), 'utf8');
  const version = /version\s*:\s*'([^']+)'/.exec(meson)[1];
  const before = Date.now();
  const res = await server.api('GET', '/api/v1/info');
  const afterMs = Date.now();
  assert.equal(res.status, 200);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(res.json.success, true);
  const { serverTime, authMode, registration, version: v } = res.json.data;
  assert.match(serverTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  // the same machine: the server's clock read between sending and receiving, to the millisecond
  assert.ok(Date.parse(serverTime) >= before - 1 && Date.parse(serverTime) <= afterMs + 1, `${serverTime} outside [${before}, ${afterMs}]`);
  assert.equal(authMode, 'header');
  assert.equal(registration, false);
  assert.equal(v, version);
  assertError(await server.api('POST', '/api/v1/info'), 405, 'METHOD_NOT_ALLOWED');
});

test('GET /api/v1/info in jwt mode: authMode jwt, and registration only with a secret to sign logins with', async () => {
  const secret = 'a-secret-of-at-least-32-bytes-for-hs256!';
  const withAccounts = await startServer({ args: ['--auth', 'jwt', '--jwt-secret', secret] });
  try {
    const info = (await withAccounts.api('GET', '/api/v1/info')).json.data;
    assert.equal(info.authMode, 'jwt');
    assert.equal(info.registration, true);
  } finally {
    await withAccounts.stop();
  }
});

// ---- --web-root ----

async function makeRoot() {
  const base = await mkdtemp(path.join(os.tmpdir(), 'flashsale-webroot-'));
  const root = path.join(base, 'root');
  await mkdir(path.join(root, 'css'), { recursive: true });
  await mkdir(path.join(base, 'outside'));
  await writeFile(path.join(root, 'index.html'), '<!doctype html><title>disk</title><p>from disk</p>\n');
  await writeFile(path.join(root, 'admin.html'), '<!doctype html><title>admin on disk</title>\n');
  await writeFile(path.join(root, 'css', 'app.css'), 'body { color: black; }\n');
  await writeFile(path.join(root, 'css', '.env'), 'SECRET=1\n');
  await writeFile(path.join(root, 'css', 'notes.exe'), 'no type\n');
  await writeFile(path.join(base, 'secret.css'), 'body { content: "secret outside the root"; }\n');
  await writeFile(path.join(base, 'outside', 'also.js'), 'console.log("outside");\n');
  // links out of the root, to a file and (js/) to a whole directory; and one that stays inside
  await symlink(path.join(base, 'secret.css'), path.join(root, 'css', 'linked.css'));
  await symlink(path.join(base, 'outside'), path.join(root, 'js'));
  await symlink('app.css', path.join(root, 'css', 'same.css'));
  await writeFile(path.join(root, 'css', 'big.css'), Buffer.alloc(4 * 1024 * 1024 + 1, 0x20));
  return { base, root };
}

test('--web-root serves the directory: edits show at once, no-cache everywhere, no gzip copy', async () => {
  const { base, root } = await makeRoot();
  const disk = await startServer({ args: ['--web-root', root] });
  try {
    const page = await raw(disk.url, '/');
    assert.equal(page.status, 200);
    assert.equal(page.body.toString(), '<!doctype html><title>disk</title><p>from disk</p>\n');
    assert.equal(page.headers['content-security-policy'], CSP);
    assert.equal(page.headers['cache-control'], 'no-cache');
    assert.match(page.headers.etag, /^"[0-9a-f]{32}"$/);
    assert.equal((await raw(disk.url, '/admin')).body.toString(), '<!doctype html><title>admin on disk</title>\n');
    const css = await raw(disk.url, '/css/app.css', { headers: { 'Accept-Encoding': 'gzip' } });
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(css.headers['cache-control'], 'no-cache');
    assert.equal(css.headers['content-encoding'], undefined);
    assert.equal((await raw(disk.url, '/css/app.css', { headers: { 'If-None-Match': css.headers.etag } })).status, 304);
    assert.equal((await raw(disk.url, '/css/same.css')).body.toString(), 'body { color: black; }\n', 'a link inside the root is followed');

    await writeFile(path.join(root, 'css', 'app.css'), 'body { color: red; }\n');
    const edited = await raw(disk.url, '/css/app.css', { headers: { 'If-None-Match': css.headers.etag } });
    assert.equal(edited.status, 200, 'the edit is served at once');
    assert.equal(edited.body.toString(), 'body { color: red; }\n');
    assert.notEqual(edited.headers.etag, css.headers.etag);
    const head = await raw(disk.url, '/css/app.css', { method: 'HEAD' });
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String('body { color: red; }\n'.length));
  } finally {
    await disk.stop();
    await rm(base, { recursive: true, force: true });
  }
});

test('--web-root never serves what lies outside it, hidden files, untyped files or files over 4 MiB', async () => {
  const { base, root } = await makeRoot();
  const disk = await startServer({ args: ['--web-root', root] });
  try {
    const refused = [
      '/../secret.css', '/css/../../secret.css', '/%2e%2e/secret.css', '/%2E%2E/secret.css', '/css/%2e%2e/%2e%2e/secret.css',
      '/css/..%2fsecret.css', '/css/%2e%2e%2fsecret.css', '/css/..%5c..%5csecret.css', '/css/%2e%2e%5csecret.css',
      '/css/linked.css', '/js/also.js', '/css/.env', '/css/%2eenv', '/css/notes.exe', '/css/', '/css',
      `/css/${'../'.repeat(8)}etc/passwd`, '/css/app.css%00.css', '/secret.css',
    ];
    for (const p of refused) {
      const res = await raw(disk.url, p);
      const text = res.body.toString();
      // a path parameter holding a NUL byte is a 400 before any route looks at it (http_request_nul_field)
      assert.equal(res.status, p.includes('%00') ? 400 : 404, `${p}: ${res.status} ${text}`);
      assert.doesNotMatch(text, /secret|outside|SECRET/, p);
    }
    const big = await raw(disk.url, '/css/big.css');
    assert.equal(big.status, 500);
    assert.equal(JSON.parse(big.body.toString()).error.code, 'INTERNAL_ERROR');
    assert.equal((await raw(disk.url, '/health')).status, 200);
  } finally {
    await disk.stop();
    await rm(base, { recursive: true, force: true });
  }
});

test('a --web-root (or WEB_ROOT) that is not a directory stops the start with one line', async () => {
  const port = await freePort();
  for (const [args, env] of [
    [['--web-root', '/nonexistent/flashsale-web'], {}],
    [[], { WEB_ROOT: path.join(repoRoot, 'meson.build') }],
  ]) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-bb-'));
    const res = await runBinary(['serve', '--port', String(port), '--admin-key', 'adminadmin', '--data-dir', dataDir, ...args], { env });
    await rm(dataDir, { recursive: true, force: true });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /^flashsale: web root .*(No such file|not a directory)/m);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
  }
});
