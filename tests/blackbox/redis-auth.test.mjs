// Distributed mode only: the server and the worker against a redis-server that wants a password
// (requirepass). A wrong password ends either process at start with one line that names the
// refusal and shows no password; the right one, percent-encoded in the URL, serves.
//
// scripts/services.sh knows no passwords, so this file starts its own redis-server; PostgreSQL is
// the run's shared instance (a fresh database), as in distributed.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { BIN, MODE_NAME, cleanEnv, freePort, httpRequest, isoIn, runBinary, uniqueSku, uniqueUser, waitFor } from './lib/harness.mjs';
import { POSTGRES_DIR, POSTGRES_PORT, run } from './lib/mode-distributed.mjs';

const skip = MODE_NAME !== 'distributed' && 'distributed mode only (FLASHSALE_MODE=distributed)';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICES = path.join(repoRoot, 'scripts', 'services.sh');
const ADMIN_KEY = `key-${randomBytes(12).toString('hex')}`;

// The first line Redis answers to a PING on a fresh connection.
function ping(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy(new Error('no reply to PING')));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data;
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.split('\r\n')[0]);
      }
    });
    socket.on('error', reject);
  });
}

// A redis-server with requirepass, in dir; ready once a PING is answered NOAUTH.
async function startProtectedRedis(dir, password) {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--requirepass', password, '--logfile', path.join(dir, 'redis.log')],
  { stdio: 'ignore' });
  const exit = new Promise((resolve) => proc.once('exit', resolve));
  await waitFor(async () => (await ping(port)).startsWith('-NOAUTH'), { what: 'redis-server to answer PING with NOAUTH' });
  return {
    port,
    async stop() {
      proc.kill('SIGTERM');
      await exit;
    },
  };
}

function psql(url, sql) {
  return run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url, '-c', sql]);
}

test('a password-protected Redis: a wrong password ends serve and worker at start without showing it; the right one serves', { skip }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-bb-auth-'));
  // '@', ':' and '/' must be percent-encoded in the URL, and are decoded by the server.
  const password = `p@ss:w/rd-${randomBytes(6).toString('hex')}`;
  const wrong = `wrong-${randomBytes(6).toString('hex')}`;
  const redis = await startProtectedRedis(dir, password);
  const postgresEnv = { SERVICES_DIR: POSTGRES_DIR, PG_PORT: String(POSTGRES_PORT) };
  await run(SERVICES, ['start', 'postgres'], postgresEnv);
  const adminUrl = `postgresql://postgres@127.0.0.1:${POSTGRES_PORT}/postgres`;
  const database = `bb_${randomBytes(6).toString('hex')}`;
  await psql(adminUrl, `CREATE DATABASE ${database}`);
  const postgresUrl = `postgresql://postgres@127.0.0.1:${POSTGRES_PORT}/${database}`;
  const redisUrl = (secret) => `redis://:${encodeURIComponent(secret)}@127.0.0.1:${redis.port}`;
  const secrets = [password, encodeURIComponent(password), wrong];
  const assertNoSecret = (text, what) => {
    for (const secret of secrets) assert.ok(!text.includes(secret), `${what} shows a password: ${text}`);
  };
  let server;
  try {
    // Wrong password: the startup error, one line, exit status 2 (serve) and 1 (worker).
    const serveArgs = async (url) => ['serve', '--port', String(await freePort()), '--admin-key', ADMIN_KEY, '--threads', '1',
      '--redis', url, '--postgres', postgresUrl];
    const refused = await runBinary(await serveArgs(redisUrl(wrong)), { timeoutMs: 15_000 });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^flashsale: redis: authentication failed: WRONGPASS[^\n]*\n$/);
    assert.equal(refused.stdout, '');
    assertNoSecret(refused.stderr, 'serve');
    const worker = await runBinary(['worker'], { env: { REDIS_URL: redisUrl(wrong), DATABASE_URL: postgresUrl }, timeoutMs: 15_000 });
    assert.equal(worker.code, 1, worker.stderr);
    assert.match(worker.stderr, /^worker: redis: authentication failed: WRONGPASS[^\n]*\n$/);
    assertNoSecret(worker.stdout + worker.stderr, 'worker');
    // A URL that does not parse is shown masked.
    const malformed = await runBinary(await serveArgs(`${redisUrl(password)}/not-a-db`), { timeoutMs: 15_000 });
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.match(malformed.stderr, /^flashsale: bad Redis URL "redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/not-a-db": [^\n]*\n$/);
    assertNoSecret(malformed.stderr, 'the bad URL message');

    // The right password: serves, sells, and its worker moves the order into PostgreSQL.
    const port = await freePort();
    const proc = spawn(BIN, ['serve', '--port', String(port), '--admin-key', ADMIN_KEY, '--threads', '2',
      '--redis', redisUrl(password), '--postgres', postgresUrl, '--with-worker'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d) => (output += d));
    proc.stderr.on('data', (d) => (output += d));
    const exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    server = { proc, exit };
    const url = `http://127.0.0.1:${port}`;
    const health = await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`flashsale serve exited\n${output}`);
      const res = await httpRequest(`${url}/health`, { timeoutMs: 1000 });
      return res.status === 200 && res.json?.status === 'ok' && res;
    }, { timeoutMs: 20_000, what: `/health ok\n${output}` });
    assertNoSecret(health.text, '/health');
    const sku = uniqueSku('AUTH');
    const created = await httpRequest(`${url}/api/v1/products`, {
      method: 'POST',
      headers: { 'X-Admin-Key': ADMIN_KEY },
      body: { sku, productName: 'behind a password', initialStock: 5, startTime: isoIn(-60_000), endTime: isoIn(3_600_000) },
    });
    assert.equal(created.status, 201, created.text);
    const user = uniqueUser();
    const bought = await httpRequest(`${url}/api/v1/purchases`, { method: 'POST', headers: { 'X-User-Id': user }, body: { sku } });
    assert.equal(bought.status, 200, bought.text);
    assert.equal(bought.json.success, true, bought.text);
    await waitFor(async () => (await psql(postgresUrl, `SELECT purchase_no FROM purchases WHERE sku = '${sku}'`)).trim() === bought.json.data.purchaseNo,
      { timeoutMs: 20_000, what: 'the order in PostgreSQL' });
    const metrics = await httpRequest(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    assertNoSecret(metrics.text, '/metrics');

    proc.kill('SIGTERM');
    assert.deepEqual(await exit, { code: 0, signal: null }, output);
    server = null;
    assertNoSecret(output, 'the server log');
  } finally {
    if (server) {
      server.proc.kill('SIGKILL');
      await server.exit;
    }
    await redis.stop();
    await psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
});
