// Distributed mode only: several server instances, a separate worker, and Redis or PostgreSQL
// failing under load. Every test checks afterwards, in PostgreSQL and Redis, that each
// acknowledged purchase is stored exactly once with the purchaseNo its buyer was given.
//
// These tests need more than one server per store, a worker of their own and services they may
// stop, so they start the binary and the services (scripts/services.sh) themselves instead of
// through startServer(). Redis is private to each test. PostgreSQL is the run's shared instance
// (a fresh database per test), except in the test that stops it, which starts a private one so
// that the other test files running in parallel keep theirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { BIN, MODE_NAME, cleanEnv, freePort, httpRequest, isoIn, storm, stormAgent, uniqueSku, uniqueUser, waitFor, sqlString, assertError } from './lib/harness.mjs';
import { POSTGRES_DIR, POSTGRES_PORT, UNPERSISTED_SCRIPT, run } from './lib/mode-distributed.mjs';

const skip = MODE_NAME !== 'distributed' && 'distributed mode only (FLASHSALE_MODE=distributed)';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICES = path.join(repoRoot, 'scripts', 'services.sh');
// The run's shared PostgreSQL: the same variables as mode-distributed.mjs.
const ADMIN_KEY = `key-${randomBytes(12).toString('hex')}`;
const STARTUP_TIMEOUT_MS = 20_000;
// A killed worker's entries are claimed after 5 s (worker.h); PostgreSQL back needs a reconnect.
const SETTLE_TIMEOUT_MS = 30_000;
// The bound for an answer while Redis is down.
const REDIS_DOWN_ANSWER_MS = 5_000;

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
async function makeStore({ privatePostgres = false } = {}) {
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
function spawnFlashsale(store, args) {
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

function startWorker(store) {
  return spawnFlashsale(store, ['worker', '--redis', store.redisUrl, '--postgres', store.postgresUrl]);
}

// `flashsale serve` on a store; launch() again after stop() restarts it (on a fresh port).
async function startServer(store, { withWorker = true } = {}) {
  const server = {
    child: null,
    url: null,
    agent: null,

    async launch() {
      const port = await freePort();
      const args = ['serve', '--listen', '127.0.0.1', '--port', String(port), '--admin-key', ADMIN_KEY, '--threads', '2',
        '--data-dir', path.join(store.dir, 'data'), '--redis', store.redisUrl, '--postgres', store.postgresUrl];
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

    api(method, urlPath, { body, admin = false, userId, timeoutMs = 30_000 } = {}) {
      const headers = {};
      if (admin) headers['X-Admin-Key'] = ADMIN_KEY;
      if (userId !== undefined) headers['X-User-Id'] = userId;
      return httpRequest(`${this.url}${urlPath}`, { method, headers, body, agent: this.agent, timeoutMs });
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

function outcome(res) {
  if (res.error) return `transport error: ${res.error.message.split('\n')[0]}`;
  if (res.status === 200 && res.json?.success === true) return 'SUCCESS';
  return `${res.status} ${res.json?.error?.code ?? res.text}`;
}

function tally(results) {
  const counts = {};
  for (const r of results) counts[outcome(r)] = (counts[outcome(r)] ?? 0) + 1;
  return counts;
}

// Records a purchase answer: acknowledged (user -> purchaseNo) or, for an answer that does not
// say whether the order was taken (503, transport error), in doubt.
function record(ledger, user, res) {
  if (res.json?.success === true) {
    assert.equal(res.json.data.userId, user);
    assert.ok(!ledger.acknowledged.has(user), `${user} succeeded twice`);
    ledger.acknowledged.set(user, res.json.data.purchaseNo);
  } else if (res.error || res.status >= 500) {
    ledger.inDoubt.add(user);
  }
}

function newLedger() {
  return { acknowledged: new Map(), inDoubt: new Set() };
}

// PostgreSQL holds each acknowledged order once, with its purchaseNo; any other row belongs to a
// buyer whose answer was in doubt. Returns the rows.
async function assertPersisted(store, sku, ledger) {
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
async function withStore(options, body) {
  const store = await makeStore(options);
  try {
    await body(store);
  } finally {
    await store.dispose();
  }
}

test('two instances on one Redis + PostgreSQL: 2,000 users split across both against stock 100 buy exactly 100', { skip }, async () => {
  await withStore({}, async (store) => {
    const [a, b] = await Promise.all([startServer(store), startServer(store)]);
    const STOCK = 100;
    const sku = await a.createSale(STOCK);
    const users = Array.from({ length: 2000 }, () => uniqueUser('two'));
    const ledger = newLedger();
    const results = await storm(users.map((u, i) => [u, i % 2 === 0 ? a : b]), async ([u, server]) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results), { SUCCESS: STOCK, '200 SOLD_OUT': users.length - STOCK });
    assert.equal(new Set(ledger.acknowledged.values()).size, STOCK, 'a purchaseNo was given twice');

    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, STOCK);
    for (const server of [a, b]) {
      const product = await server.product(sku);
      assert.equal(product.currentStock, 0);
      assert.equal(product.totalPurchases, STOCK);
    }
    await Promise.all([a.stop(), b.stop()]);
  });
});

test('kill -9 of the worker mid-storm, then a restart: every acknowledged order reaches PostgreSQL exactly once', { skip }, async (t) => {
  await withStore({}, async (store) => {
    const server = await startServer(store, { withWorker: false });
    let worker = startWorker(store);
    const STOCK = 1_000_000;
    const sku = await server.createSale(STOCK);
    const stream = `flashsale:{${sku}}:orders`;
    const pending = async () => Number((await store.redisCli('XPENDING', stream, 'persisters')).split('\n')[0].trim());
    const ledger = newLedger();

    // Waves of 1,000 buyers until the worker was killed while holding a batch it had read but
    // not acknowledged (after 300 answers at least), then one more wave with no worker at all.
    let killed = null;
    let storming = true;
    const killer = (async () => {
      while (storming) {
        if (ledger.acknowledged.size >= 300 && (await pending()) > 0) {
          const exit = await worker.kill('SIGKILL');
          // It may have acknowledged its batch between the look and the kill: then again.
          if ((await pending()) > 0) {
            killed = exit;
            return;
          }
          worker = startWorker(store);
        }
        await sleep(1);
      }
    })();
    for (let wave = 0; wave < 20 && !killed; wave++) {
      const users = Array.from({ length: 1000 }, () => uniqueUser(`wk${wave}`));
      const results = await storm(users, async (u) => {
        const res = await server.purchase(sku, u);
        record(ledger, u, res);
        return res;
      });
      assert.deepEqual(tally(results), { SUCCESS: users.length });
    }
    storming = false;
    await killer;
    assert.deepEqual(killed, { code: null, signal: 'SIGKILL' }, `the worker was never killed holding a batch\n${worker.output}`);
    const lastWave = Array.from({ length: 1000 }, () => uniqueUser('wk-after'));
    const results = await storm(lastWave, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results), { SUCCESS: lastWave.length });
    const orphaned = await pending();
    t.diagnostic(`entries left pending by the killed worker: ${orphaned}; rows in PostgreSQL at the end of the storm: ${(await store.purchasesOf(sku)).length}`);

    worker = startWorker(store);
    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, ledger.acknowledged.size);
    assert.equal(await pending(), 0);
    const product = await server.product(sku);
    assert.equal(product.totalPurchases, ledger.acknowledged.size);
    await worker.kill('SIGTERM');
    await server.stop();
  });
});

test('PostgreSQL stopped during a storm and started again: purchases keep succeeding, every acknowledged order reaches it', { skip }, async () => {
  await withStore({ privatePostgres: true }, async (store) => {
    const server = await startServer(store);
    const STOCK = 100_000;
    const sku = await server.createSale(STOCK);
    const ledger = newLedger();

    // First wave: PostgreSQL is stopped once 300 answers came back.
    const wave1 = Array.from({ length: 1500 }, () => uniqueUser('pg1'));
    let stopping = null;
    const results1 = await storm(wave1, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      if (ledger.acknowledged.size >= 300 && !stopping) stopping = store.postgresService('stop');
      return res;
    });
    await stopping;
    assert.deepEqual(tally(results1), { SUCCESS: wave1.length });

    // Second wave: entirely while PostgreSQL is down.
    const wave2 = Array.from({ length: 1000 }, () => uniqueUser('pg2'));
    const results2 = await storm(wave2, async (u) => {
      const res = await server.purchase(sku, u, { timeoutMs: 10_000 });
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results2), { SUCCESS: wave2.length }, 'purchases while PostgreSQL is down');
    const waiting = Number((await store.redisCli('EVAL', UNPERSISTED_SCRIPT, '0')).trim());
    assert.ok(waiting >= wave2.length, `only ${waiting} orders wait in the streams while PostgreSQL is down`);

    await store.postgresService('start');
    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, wave1.length + wave2.length);
    const product = await server.product(sku);
    assert.equal(product.totalPurchases, rows.length);
    assert.equal(product.currentStock, STOCK - rows.length);
    await server.stop();
  });
});

test('redis-server kill -9 mid-storm: 503 within 5 s while down, then from its AOF nothing acknowledged is lost and stock + sold == initial', { skip }, async (t) => {
  await withStore({}, async (store) => {
    const server = await startServer(store);
    const STOCK = 100_000;
    const sku = await server.createSale(STOCK);
    const ledger = newLedger();

    const users = Array.from({ length: 1500 }, () => uniqueUser('rk'));
    let killing = null;
    const results = await storm(users, async (u) => {
      const res = await server.purchase(sku, u, { timeoutMs: 15_000 });
      record(ledger, u, res);
      if (ledger.acknowledged.size >= 300 && !killing) killing = store.redisService('kill');
      return res;
    });
    await killing;
    for (const r of results) {
      if (r.json?.success) continue;
      assertError(r, 503, 'SERVICE_UNAVAILABLE');
    }

    // Redis is down: every answer is a prompt 503.
    for (let i = 0; i < 3; i++) {
      const user = uniqueUser('down');
      const started = Date.now();
      const res = await server.purchase(sku, user, { timeoutMs: 15_000 });
      const elapsed = Date.now() - started;
      record(ledger, user, res);
      assertError(res, 503, 'SERVICE_UNAVAILABLE');
      assert.ok(elapsed < REDIS_DOWN_ANSWER_MS, `a purchase with Redis down took ${elapsed} ms`);
    }

    await store.redisService('start');
    // The server reconnects by itself.
    await waitFor(async () => {
      const user = uniqueUser('back');
      const res = await server.purchase(sku, user, { timeoutMs: 15_000 });
      record(ledger, user, res);
      return res.json?.success === true;
    }, { timeoutMs: 15_000, intervalMs: 100, what: 'a purchase to succeed once Redis is back' });

    const rows = await assertPersisted(store, sku, ledger);
    t.diagnostic(`acknowledged ${ledger.acknowledged.size}, in doubt ${ledger.inDoubt.size}, stored ${rows.length}`);
    // An order stored for a buyer who was answered 503 (Redis took it, then died before the
    // reply): asking again must find it.
    const unanswered = rows.filter((r) => !ledger.acknowledged.has(r.user_id));
    const retries = await storm(unanswered, (r) => server.purchase(sku, r.user_id));
    retries.forEach((res, i) => assertError(res, 200, 'ALREADY_PURCHASED', { purchaseNo: unanswered[i].purchase_no }));
    const product = await server.product(sku);
    assert.equal(product.initialStock, STOCK);
    assert.equal(product.currentStock + product.totalPurchases, STOCK, `stock ${product.currentStock} + sold ${product.totalPurchases}`);
    assert.equal(product.totalPurchases, rows.length, 'Redis and PostgreSQL disagree on the number sold');
    await server.stop();
  });
});

test('FLUSHALL, then a restart of the server: stock and buyers rebuilt from PostgreSQL, no oversell afterwards', { skip }, async () => {
  await withStore({}, async (store) => {
    let server = await startServer(store);
    const STOCK = 200;
    const sku = await server.createSale(STOCK);
    const ledger = newLedger();
    const early = Array.from({ length: 50 }, () => uniqueUser('early'));
    const results1 = await storm(early, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      return res;
    });
    assert.deepEqual(tally(results1), { SUCCESS: early.length });
    // FLUSHALL also drops the streams: only what PostgreSQL holds can come back.
    await store.settle();

    assert.equal((await store.redisCli('FLUSHALL')).trim(), 'OK');
    await server.stop();
    await server.launch();

    const product = await server.product(sku);
    assert.equal(product.initialStock, STOCK);
    assert.equal(product.totalPurchases, early.length);
    assert.equal(product.currentStock, STOCK - early.length);

    const again = await storm(early, (u) => server.purchase(sku, u));
    again.forEach((res, i) => assertError(res, 200, 'ALREADY_PURCHASED', { purchaseNo: ledger.acknowledged.get(early[i]) }));

    const earlyNos = new Set(ledger.acknowledged.values());
    const late = Array.from({ length: 2000 }, () => uniqueUser('late'));
    const results2 = await storm(late, async (u) => {
      const res = await server.purchase(sku, u);
      record(ledger, u, res);
      if (res.json?.success) assert.ok(!earlyNos.has(res.json.data.purchaseNo), `purchaseNo ${res.json.data.purchaseNo} given again after the rebuild`);
      return res;
    });
    assert.deepEqual(tally(results2), { SUCCESS: STOCK - early.length, '200 SOLD_OUT': late.length - (STOCK - early.length) });

    const rows = await assertPersisted(store, sku, ledger);
    assert.equal(rows.length, STOCK);
    const after = await server.product(sku);
    assert.equal(after.currentStock, 0);
    assert.equal(after.totalPurchases, STOCK);
    await server.stop();
  });
});

test('persistedPurchases counts the rows in PostgreSQL: none while no worker runs, all once one has', { skip }, async () => {
  await withStore({}, async (store) => {
    const server = await startServer(store, { withWorker: false });
    const sku = await server.createSale(10);
    const users = Array.from({ length: 4 }, () => uniqueUser('persisted'));
    for (const user of users) assert.equal((await server.purchase(sku, user)).json?.success, true);

    // The count is sampled (about once a second): wait for a sample, which must find no row.
    const waiting = await waitFor(async () => {
      const product = await server.product(sku);
      return product.persistedPurchases !== null && product;
    }, { what: 'a first sample of the persisted counts' });
    assert.equal(waiting.totalPurchases, users.length);
    assert.equal(waiting.persistedPurchases, 0, 'no worker ran, so PostgreSQL holds no order');

    const worker = startWorker(store);
    await store.settle();
    const done = await waitFor(async () => {
      const product = await server.product(sku);
      return product.persistedPurchases === users.length && product;
    }, { what: 'persistedPurchases to reach the orders the worker stored' });
    assert.equal(done.totalPurchases, users.length);
    const listed = await server.api('GET', '/api/v1/products', { admin: true });
    assert.equal(listed.json.data.find((p) => p.sku === sku).persistedPurchases, users.length);
    await worker.kill('SIGTERM');
    await server.stop();
  });
});
