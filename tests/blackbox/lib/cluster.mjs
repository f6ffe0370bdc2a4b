// Distributed mode: a store of its own per test (a private Redis, a fresh PostgreSQL database,
// or a private PostgreSQL for a test that stops it), several `flashsale serve` instances and
// workers on it, and the checks every fault test makes afterwards: each acknowledged purchase is
// stored exactly once, with the purchaseNo its buyer was given.
//
// These tests need more than one server per store, a worker of their own and services they may
// stop, so they start the binary and the services (scripts/services.sh) themselves instead of
// through harness.mjs' startServer(). Redis is private to each store. PostgreSQL is the run's
// shared instance (a fresh database per store), unless a private one is asked for, so that the
// other test files running in parallel keep theirs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { BIN, cleanEnv, freePort, httpRequest, isoIn, stormAgent, uniqueSku, waitFor, sqlString } from './harness.mjs';
import { POSTGRES_DIR, POSTGRES_PORT, UNPERSISTED_SCRIPT, run } from './mode-distributed.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVICES = path.join(repoRoot, 'scripts', 'services.sh');
// The run's shared PostgreSQL: the same variables as mode-distributed.mjs.
export const ADMIN_KEY = `key-${randomBytes(12).toString('hex')}`;
const STARTUP_TIMEOUT_MS = 20_000;
// A killed worker's entries are claimed after 5 s (worker.h); PostgreSQL back needs a reconnect.
const SETTLE_TIMEOUT_MS = 30_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function psql(url, sql) {
  return run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url, '-c', sql]);
}

const live = new Set();
process.on('exit', () => {
  for (const proc of live) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// One Redis (private) and one PostgreSQL database, plus everything a test started on them;
// dispose() takes it all down.
export async function makeStore({ privatePostgres = false } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-bb-dist-'));
  // A private PostgreSQL runs as the postgres user, which must reach its directory.
  await chmod(dir, 0o755);
  const redisEnv = { SERVICES_DIR: path.join(dir, 'redis'), REDIS_PORT: String(await freePort()) };
  const postgresEnv = privatePostgres
    ? { SERVICES_DIR: path.join(dir, 'postgres'), PG_PORT: String(await freePort()) }
    : { SERVICES_DIR: POSTGRES_DIR, PG_PORT: String(POSTGRES_PORT) };
  await Promise.all([run(SERVICES, ['start', 'redis'], redisEnv), run(SERVICES, ['start', 'postgres'], postgresEnv)]);
  const adminUrl = `postgresql://postgres@127.0.0.1:${postgresEnv.PG_PORT}/postgres`;
  const database = `bb_${randomBytes(6).toString('hex')}`;
  await psql(adminUrl, `CREATE DATABASE ${database}`);
  const postgresUrl = `postgresql://postgres@127.0.0.1:${postgresEnv.PG_PORT}/${database}`;
  const redisUrl = `redis://127.0.0.1:${redisEnv.REDIS_PORT}`;
  const processes = [];

  const store = {
    dir,
    redisUrl,
    postgresUrl,
    processes,
    redisCli: (...args) => run('redis-cli', ['-p', redisEnv.REDIS_PORT, ...args]),
    redisService: (command) => run(SERVICES, [command, 'redis'], redisEnv),
    // A signal to redis-server itself (SIGSTOP: a Redis that hangs; SIGCONT: back).
    async redisSignal(signal) {
      const pid = Number((await readFile(path.join(redisEnv.SERVICES_DIR, 'redis', 'redis.pid'), 'utf8')).trim());
      process.kill(pid, signal);
    },
    postgresService: (command) => run(SERVICES, [command, 'postgres'], postgresEnv),

    async query(sql) {
      const text = await psql(postgresUrl, `SELECT coalesce(json_agg(q), '[]'::json) FROM (${sql}) q`);
      return JSON.parse(text);
    },

    // Waits until every order stream is empty: the worker deletes an entry only after
    // PostgreSQL committed it.
    async settle() {
      let left;
      await waitFor(async () => {
        left = Number((await store.redisCli('EVAL', UNPERSISTED_SCRIPT, '0')).trim());
        return left === 0;
      }, { timeoutMs: SETTLE_TIMEOUT_MS, what: 'the order streams to drain into PostgreSQL (is a worker running?)' });
    },

    async purchasesOf(sku) {
      return store.query(`SELECT user_id, purchase_no FROM purchases WHERE sku = ${sqlString(sku)}`);
    },

    async dispose() {
      for (const p of processes) await p.kill().catch(() => {});
      await run(SERVICES, ['destroy'], redisEnv).catch(() => {});
      if (privatePostgres) await run(SERVICES, ['destroy'], postgresEnv).catch(() => {});
      else await psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  return store;
}

// A flashsale process (serve or worker) of a store.
export function spawnFlashsale(store, args) {
  const proc = spawn(BIN, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const child = { proc, output: '' };
  const keep = (d) => {
    child.output = (child.output + d).slice(-32 * 1024);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  child.exit = new Promise((resolve) => proc.once('exit', (code, signal) => {
    live.delete(proc);
    resolve({ code, signal });
  }));
  child.running = () => proc.exitCode === null && proc.signalCode === null;
  child.kill = async (signal = 'SIGKILL') => {
    if (child.running()) proc.kill(signal);
    return child.exit;
  };
  store.processes.push(child);
  return child;
}

export function startWorker(store) {
  return spawnFlashsale(store, ['worker', '--redis', store.redisUrl, '--postgres', store.postgresUrl]);
}

// `flashsale serve` on a store; launch() again after stop() restarts it (on a fresh port).
export async function startInstance(store, { withWorker = true, threads = 2, args: extraArgs = [] } = {}) {
  const server = {
    child: null,
    url: null,
    agent: null,

    async launch() {
      const port = await freePort();
      const args = ['serve', '--listen', '127.0.0.1', '--port', String(port), '--admin-key', ADMIN_KEY, '--threads', String(threads),
        '--data-dir', path.join(store.dir, 'data'), '--redis', store.redisUrl, '--postgres', store.postgresUrl, ...extraArgs];
      if (withWorker) args.push('--with-worker');
      this.child = spawnFlashsale(store, args);
      this.url = `http://127.0.0.1:${port}`;
      this.agent = stormAgent(128);
      const deadline = Date.now() + STARTUP_TIMEOUT_MS;
      for (;;) {
        if (!this.child.running()) throw new Error(`flashsale serve exited during startup\n${this.child.output}`);
        try {
          await httpRequest(`${this.url}/health`, { timeoutMs: 1000 });
          return this;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`flashsale serve did not answer /health in ${STARTUP_TIMEOUT_MS} ms\n${this.child.output}`);
        await sleep(25);
      }
    },

    // SIGTERM and insist on a clean exit.
    async stop() {
      this.agent.destroy();
      const child = this.child;
      child.proc.kill('SIGTERM');
      const timer = new Promise((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref());
      const result = await Promise.race([child.exit, timer]);
      if (result === 'timeout') await child.kill();
      assert.deepEqual(result, { code: 0, signal: null }, `flashsale serve should exit 0 on SIGTERM\n${child.output}`);
    },

    // fresh: on a new connection (which the kernel hands to any of the instance's loops).
    api(method, urlPath, { body, admin = false, userId, timeoutMs = 30_000, fresh = false } = {}) {
      const headers = {};
      if (admin) headers['X-Admin-Key'] = ADMIN_KEY;
      if (userId !== undefined) headers['X-User-Id'] = userId;
      return httpRequest(`${this.url}${urlPath}`, { method, headers, body, agent: fresh ? false : this.agent, timeoutMs });
    },

    purchase(sku, userId, opts = {}) {
      return this.api('POST', '/api/v1/purchases', { userId, body: { sku }, ...opts });
    },

    async createSale(initialStock) {
      const body = { sku: uniqueSku('D'), productName: 'Distributed test', initialStock, startTime: isoIn(-60_000), endTime: isoIn(3_600_000) };
      const res = await this.api('POST', '/api/v1/products', { admin: true, body });
      assert.equal(res.status, 201, res.text);
      return res.json.data.sku;
    },

    async product(sku) {
      const res = await this.api('GET', `/api/v1/products/${encodeURIComponent(sku)}`, { admin: true });
      assert.equal(res.status, 200, res.text);
      return res.json.data;
    },
  };
  return server.launch();
}

export function outcome(res) {
  if (res.error) return `transport error: ${res.error.message.split('\n')[0]}`;
  if (res.status === 200 && res.json?.success === true) return 'SUCCESS';
  return `${res.status} ${res.json?.error?.code ?? res.text}`;
}

export function tally(results) {
  const counts = {};
  for (const r of results) counts[outcome(r)] = (counts[outcome(r)] ?? 0) + 1;
  return counts;
}

// Records a purchase answer: acknowledged (user -> purchaseNo) or, for an answer that does not
// say whether the order was taken (503, transport error), in doubt.
export function record(ledger, user, res) {
  if (res.json?.success === true) {
    assert.equal(res.json.data.userId, user);
    assert.ok(!ledger.acknowledged.has(user), `${user} succeeded twice`);
    ledger.acknowledged.set(user, res.json.data.purchaseNo);
  } else if (res.error || res.status >= 500) {
    ledger.inDoubt.add(user);
  }
}

export function newLedger() {
  return { acknowledged: new Map(), inDoubt: new Set() };
}

// PostgreSQL holds each acknowledged order once, with its purchaseNo; any other row belongs to a
// buyer whose answer was in doubt. Returns the rows.
export async function assertPersisted(store, sku, ledger) {
  await store.settle();
  const rows = await store.purchasesOf(sku);
  const stored = new Map();
  for (const row of rows) {
    assert.ok(!stored.has(row.user_id), `${row.user_id} is stored twice`);
    stored.set(row.user_id, row.purchase_no);
  }
  assert.equal(new Set(rows.map((r) => r.purchase_no)).size, rows.length, 'a purchaseNo is stored twice');
  const missing = [...ledger.acknowledged.keys()].filter((u) => !stored.has(u));
  assert.deepEqual(missing, [], `${missing.length} acknowledged orders are not in PostgreSQL`);
  for (const [user, purchaseNo] of ledger.acknowledged) assert.equal(stored.get(user), purchaseNo, `purchaseNo of ${user}`);
  const unexplained = [...stored.keys()].filter((u) => !ledger.acknowledged.has(u) && !ledger.inDoubt.has(u));
  assert.deepEqual(unexplained, [], 'PostgreSQL holds orders nobody was answered, nor left in doubt');
  const dead = Number((await store.redisCli('XLEN', 'flashsale:orders:dead')).trim());
  assert.equal(dead, 0, 'orders were moved to the dead-letter stream');
  return rows;
}

// Runs body(store) and takes everything down afterwards, whatever happened.
export async function withStore(options, body) {
  const store = await makeStore(options);
  try {
    await body(store);
  } finally {
    await store.dispose();
  }
}
