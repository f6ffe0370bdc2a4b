// The command line: --help, bad configuration, environment variables, signals, --demo.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm, access } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runBinary, startServer, freePort, httpRequest, uniqueUser, assertOk, assertError, MODE_NAME } from './lib/harness.mjs';

const tmpDirs = [];
async function tmpDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-cli-'));
  tmpDirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of tmpDirs) await rm(dir, { recursive: true, force: true });
});

// A full, valid serve command line on a free port; `extra` is appended.
async function serveArgs(extra = [], { withKey = true } = {}) {
  const port = await freePort();
  const args = ['serve', '--listen', '127.0.0.1', '--port', String(port), '--data-dir', await tmpDir(), '--threads', '2'];
  if (withKey) args.push('--admin-key', 'cli-test-key');
  return { port, args: [...args, ...extra] };
}

// Bad configuration: a non-zero exit and exactly one (non-empty) line on stderr.
function assertConfigError(result, pattern) {
  assert.notEqual(result.code, 0, `expected a non-zero exit; stderr: ${result.stderr}`);
  assert.equal(result.signal, null, `died of ${result.signal} instead of exiting`);
  const text = result.stderr.replace(/\n$/, '');
  assert.ok(text.trim().length > 0, 'nothing on stderr');
  assert.ok(!text.includes('\n'), `more than one line on stderr:\n${result.stderr}`);
  if (pattern) assert.match(text, pattern);
}

test('--help prints the usage and exits 0', async () => {
  for (const args of [['--help'], ['serve', '--help']]) {
    const r = await runBinary(args);
    assert.equal(r.code, 0, `flashsale ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    const out = r.stdout + r.stderr;
    assert.match(out, /usage/i);
    for (const flag of ['--listen', '--port', '--data-dir', '--admin-key', '--threads', '--demo']) assert.ok(out.includes(flag), `usage lacks ${flag}:\n${out}`);
  }
});

test('an unknown flag: non-zero exit and one line on stderr', async () => {
  const { args } = await serveArgs(['--bogus-flag']);
  assertConfigError(await runBinary(args), /--bogus-flag/);
  const unknownCommand = await runBinary(['no-such-command']);
  assert.notEqual(unknownCommand.code, 0, unknownCommand.stderr);
});

test('bad flag values: non-zero exit and one line on stderr', async () => {
  for (const [extra, pattern] of [[['--port', 'abc'], /port/i], [['--port', '70000'], /port/i], [['--threads', '-1'], /thread/i], [['--threads', 'many'], /thread/i]]) {
    const { args } = await serveArgs();
    // The bad value comes after the valid one serveArgs put first; either way it must fail.
    assertConfigError(await runBinary([...args, ...extra]), pattern);
  }
  const { args } = await serveArgs();
  assertConfigError(await runBinary([...args, '--port']));
});

test('a port in use: non-zero exit and one line on stderr', async () => {
  const holder = net.createServer();
  await new Promise((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address();
  try {
    const { args } = await serveArgs();
    args[args.indexOf('--port') + 1] = String(port);
    assertConfigError(await runBinary(args), /in use|port|address|bind/i);
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
});

test('a port held by another flashsale: the second one exits non-zero (SO_REUSEPORT must not let it share)', async () => {
  const first = await startServer();
  try {
    const { args } = await serveArgs();
    args[args.indexOf('--port') + 1] = String(first.port);
    assertConfigError(await runBinary(args), /in use|port|address|bind/i);
    assert.equal((await first.api('GET', '/health')).status, 200);
  } finally {
    await first.stop();
  }
});

test('an unwritable data dir (a path under a regular file): non-zero exit and one line on stderr', async () => {
  const dir = await tmpDir();
  const file = path.join(dir, 'plain-file');
  await writeFile(file, 'not a directory');
  const { args } = await serveArgs();
  args[args.indexOf('--data-dir') + 1] = path.join(file, 'data');
  assertConfigError(await runBinary(args), /dir|data/i);
  args[args.indexOf('--data-dir') + 1] = file;
  assertConfigError(await runBinary(args), /dir|data|database/i);
});

test('no admin key outside --demo: non-zero exit and one line on stderr', async () => {
  const { args } = await serveArgs([], { withKey: false });
  assertConfigError(await runBinary(args), /admin/i);
  assertConfigError(await runBinary(args, { env: { ADMIN_KEY: '' } }), /admin/i);
});

// Every command that takes a PostgreSQL URL checks it before it connects to anything (so no Redis
// or PostgreSQL is needed here, in either mode): one line, the URL masked, libpq's complaint without
// the pieces of the URL it quotes.
test('a PostgreSQL URL libpq cannot read ends serve, worker, user and data-loss at start, without its password', async () => {
  const secret = 'pg-S3cret-cli';
  const redis = 'redis://127.0.0.1:1';
  const cases = [
    [`postgresql://alice:${secret}%zz@127.0.0.1:1/db`, /^bad PostgreSQL URL "postgresql:\/\/alice:\*\*\*@127\.0\.0\.1:1\/db": invalid percent-encoded token: "\.\.\." \(expected postgresql:\/\//],
    [`mysql://alice:${secret}@127.0.0.1/db`, /^bad PostgreSQL URL "mysql:\/\/alice:\*\*\*@127\.0\.0\.1\/db": the scheme is not postgresql:\/\/ or postgres:\/\//],
    [`host=127.0.0.1 ${secret}`, /^bad PostgreSQL URL "\(key=value pairs\)": missing "=" after "\.\.\." in connection info string/],
  ];
  for (const [url, pattern] of cases) {
    const { args } = await serveArgs(['--redis', redis, '--postgres', url]);
    const runs = {
      serve: await runBinary(args),
      worker: await runBinary(['worker', '--redis', redis, '--postgres', url]),
      user: await runBinary(['user', 'grant-admin', 'alice', '--redis', redis, '--postgres', url]),
      'data-loss': await runBinary(['data-loss', '--postgres', url]),
    };
    for (const [command, result] of Object.entries(runs)) {
      assertConfigError(result);
      const line = result.stderr.replace(/^(flashsale|worker): /, '');
      assert.match(line, pattern, `${command}: ${result.stderr}`);
      assert.ok(!(result.stdout + result.stderr).includes(secret), `${command} shows the password: ${result.stderr}`);
    }
  }
});

test('LISTEN, PORT, DATA_DIR, ADMIN_KEY and THREADS work instead of flags', async () => {
  const server = await startServer({ viaEnv: true, listen: '127.0.0.2', threads: 1 });
  try {
    assert.equal((await server.api('GET', '/health')).status, 200);
    // LISTEN was honoured: nothing answers on 127.0.0.1 at that port.
    await assert.rejects(httpRequest(`http://127.0.0.1:${server.port}/health`, { timeoutMs: 2000 }), /ECONNREFUSED/);
    // ADMIN_KEY was honoured.
    assertError(await server.api('GET', '/api/v1/products', { admin: 'wrong' }), 401, 'UNAUTHORIZED');
    const { sku } = await server.createSale({ initialStock: 3 });
    assertOk(await server.purchase(sku, uniqueUser()));
    // DATA_DIR was honoured: the embedded ledger is there (the distributed mode keeps no files).
    if (MODE_NAME === 'embedded') await access(path.join(server.dataDir, 'flashsale.db'));
    assert.equal(await server.dbCount(`SELECT COUNT(*) AS n FROM purchases WHERE sku = '${sku}'`), 1);
  } finally {
    await server.stop();
  }
  // THREADS is read: a bad value is bad configuration.
  const port = await freePort();
  const env = { PORT: String(port), LISTEN: '127.0.0.1', DATA_DIR: await tmpDir(), ADMIN_KEY: 'a-long-enough-admin-key', THREADS: 'many' };
  assertConfigError(await runBinary(['serve'], { env }), /thread/i);
  assertConfigError(await runBinary(['serve'], { env: { ...env, THREADS: '2', PORT: 'abc' } }), /port/i);
});

test('SIGTERM and SIGINT: exit 0, and what was bought is kept', async () => {
  const server = await startServer();
  try {
    const { sku } = await server.createSale({ initialStock: 3 });
    const user = uniqueUser();
    const p = assertOk(await server.purchase(sku, user));
    await server.stopProcess('SIGINT'); // asserts exit 0
    await server.launch();
    assertError(await server.purchase(sku, user), 200, 'ALREADY_PURCHASED', { purchaseNo: p.purchaseNo });
  } finally {
    await server.stop(); // SIGTERM, asserts exit 0
  }
});

test('serve --demo: a live demo sale DEMO-001 with stock 100, also after a restart', async () => {
  const server = await startServer({ adminKey: null, args: ['--demo'] });
  try {
    const list = assertOk(await server.api('GET', '/api/v1/sales'));
    assert.ok(Array.isArray(list));
    const demo = list.find((s) => s.sku === 'DEMO-001');
    assert.ok(demo, `no DEMO-001 in ${JSON.stringify(list)}`);
    assert.equal(demo.state, 'ACTIVE');
    assert.equal(demo.initialStock, 100);
    assert.equal(demo.stock, 100);
    assert.equal(demo.endReason, null);
    const p = assertOk(await server.purchase('DEMO-001', uniqueUser()));
    assert.equal(p.sku, 'DEMO-001');
    assert.equal((await server.sale('DEMO-001')).stock, 99);

    // A second start on the same data dir must not trip over the existing demo sale.
    await server.restart();
    const again = assertOk(await server.api('GET', '/api/v1/sales')).filter((s) => s.sku === 'DEMO-001');
    assert.equal(again.length, 1);
    assert.equal(again[0].state, 'ACTIVE');
  } finally {
    await server.stop();
  }
});
