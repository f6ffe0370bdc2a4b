// Black-box harness: starts the real flashsale binary and speaks HTTP to it.
//
// Every test file starts its own server(s) through startServer() and creates its own sales with
// unique skus (uniqueSku()), so files never depend on each other's state and a server may be
// shared by all tests of one file.
//
// Modes. FLASHSALE_MODE selects how the server stores its data: "embedded" (default; SQLite in
// the data dir) or "distributed" (Redis + PostgreSQL, see mode-distributed.mjs). A mode is a small object:
//
//   {
//     name,
//     // Binds one logical store to a data dir. Called once per data dir: a restart of the same
//     // server reuses the store, a server with a fresh data dir gets a fresh store.
//     async store(dataDir) -> {
//       args: [...],           // extra `flashsale serve` arguments
//       env: {...},            // extra environment variables
//       async dbQuery(sql),    // -> array of row objects (column name -> value)
//       async settle(),        // optional: wait until the database holds every write the server
//                              // has acknowledged (e.g. a worker copying streams into PostgreSQL);
//                              // server.dbQuery() calls it before every query
//       async dispose(),       // optional: drop what store() created
//     },
//   }
//
// Tests only use SQL that runs unchanged on SQLite and PostgreSQL (lower-case names, single
// quoted strings, COUNT(*) AS n read through Number()).

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';

import { distributedMode } from './mode-distributed.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export const BIN = path.resolve(repoRoot, process.env.FLASHSALE_BIN || 'build/flashsale');

// Configuration variables of the binary: never inherited from the environment running the tests,
// so that a developer's shell cannot change what a test starts.
const CONFIG_ENV = [
  'LISTEN', 'PORT', 'DATA_DIR', 'ADMIN_KEY', 'THREADS', 'REDIS_URL', 'POSTGRES_URL', 'DATABASE_URL', 'LOG_LEVEL',
  'AUTH_MODE', 'JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_TTL', 'LOGIN_QUEUE',
  'RATE_LIMIT_IP', 'RATE_LIMIT_USER', 'TRUSTED_PROXY', 'WEB_ROOT',
  'MAX_CONNECTIONS', 'SHUTDOWN_TIMEOUT', 'IDLE_TIMEOUT', 'HEADER_TIMEOUT', 'BODY_TIMEOUT', 'MAX_HEADER_BYTES',
  'MAX_HEADERS', 'MAX_BODY_BYTES', 'HTTP2', 'CORS_ORIGIN',
];

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 20_000;
const OUTPUT_LIMIT = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Modes

function execFileAsync(file, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 256 * 1024 * 1024, ...options }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\nstderr: ${stderr}`;
        reject(err);
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

export const modes = {
  embedded: {
    name: 'embedded',
    async store(dataDir) {
      const dbFile = path.join(dataDir, 'flashsale.db');
      return {
        args: [],
        env: {},
        async dbQuery(sql) {
          const { stdout } = await execFileAsync('sqlite3', ['-json', '-cmd', '.timeout 10000', dbFile, sql]);
          const text = stdout.trim();
          return text === '' ? [] : JSON.parse(text);
        },
        async dispose() {},
      };
    },
  },
  distributed: distributedMode,
};

export const MODE_NAME = process.env.FLASHSALE_MODE || 'embedded';

export function currentMode() {
  const mode = modes[MODE_NAME];
  if (!mode) throw new Error(`FLASHSALE_MODE=${MODE_NAME}: unknown mode (known: ${Object.keys(modes).join(', ')})`);
  return mode;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

let skuCounter = 0;
const runTag = randomBytes(3).toString('hex').toUpperCase();

// A sku no other test (or earlier run against the same store) uses: [A-Z0-9-], well under 64.
export function uniqueSku(prefix = 'T') {
  skuCounter += 1;
  return `${prefix}-${runTag}-${process.pid.toString(36).toUpperCase()}-${skuCounter}-${randomBytes(2).toString('hex').toUpperCase()}`;
}

let userCounter = 0;
export function uniqueUser(prefix = 'user') {
  userCounter += 1;
  return `${prefix}-${runTag}-${userCounter}-${randomBytes(3).toString('hex')}`;
}

export function isoIn(deltaMs) {
  return new Date(Date.now() + deltaMs).toISOString();
}

export const ISO_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function sqlString(value) {
  return `'${String(value).replaceAll("'", "''")}'`;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Polls fn until it returns a truthy value; fails with the last value/error after timeoutMs.
export async function waitFor(fn, { timeoutMs = 10_000, intervalMs = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.stack : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

// One plain HTTP/1.1 request. Unlike fetch, node:http sends header values exactly as given
// (fetch trims them) and lets the caller pick an agent with many keep-alive connections.
// Resolves {status, headers, text, json}; json is the parsed body or undefined.
// chunked: send the body with Transfer-Encoding: chunked instead of a Content-Length.
export function httpRequest(url, { method = 'GET', headers = {}, body, agent, timeoutMs = 30_000, chunked = false } = {}) {
  return new Promise((resolve, reject) => {
    let payload;
    if (body !== undefined) {
      payload = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    }
    const allHeaders = { ...headers };
    if (payload !== undefined) {
      if (!Object.keys(allHeaders).some((h) => h.toLowerCase() === 'content-type')) {
        allHeaders['Content-Type'] = 'application/json';
      }
      if (chunked) allHeaders['Transfer-Encoding'] = 'chunked';
      else allHeaders['Content-Length'] = payload.length;
    }
    const req = http.request(url, { method, headers: allHeaders, agent: agent ?? false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try {
          json = text === '' ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload !== undefined) {
      // In pieces, so that a chunked body really arrives as several chunks.
      for (let i = 0; i < payload.length; i += 4096) req.write(payload.subarray(i, i + 4096));
    }
    req.end();
  });
}

// Keep-alive agents honour the server's "Keep-Alive: timeout=N" (dropping an idle socket a second
// before the server closes it, instead of reusing it as the server's FIN crosses the request) only
// when they have a timeout of their own; this one is longer than any test's request.
const AGENT_TIMEOUT_MS = 120_000;

// A keep-alive agent: up to maxSockets connections really in flight at once.
export function keepAliveAgent(maxSockets, options = {}) {
  return new http.Agent({ keepAlive: true, maxSockets, timeout: AGENT_TIMEOUT_MS, ...options });
}

// A keep-alive agent for request storms: up to maxSockets connections really in flight at once.
export function stormAgent(maxSockets = 256) {
  return keepAliveAgent(maxSockets, { maxFreeSockets: maxSockets });
}

// ---------------------------------------------------------------------------------------------
// Servers

const liveProcesses = new Set();
process.on('exit', () => {
  for (const proc of liveProcesses) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// Environment for a child: the test process's own, minus the binary's configuration variables.
export function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const name of CONFIG_ENV) delete env[name];
  return { ...env, ...extra };
}

// Runs the binary to completion (for CLI tests). Resolves {code, signal, stdout, stderr}.
// If it is still running after timeoutMs it is killed and the promise rejects.
export function runBinary(args, { env = {}, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const proc = spawn(BIN, args, { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    liveProcesses.add(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`flashsale ${args.join(' ')} still running after ${timeoutMs} ms\nstderr: ${stderr}`));
    }, timeoutMs);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.on('exit', (code, signal) => {
      liveProcesses.delete(proc);
      clearTimeout(timer);
      // 'exit' may come before the pipes are drained.
      let pending = 2;
      const done = () => {
        pending -= 1;
        if (pending === 0) resolve({ code, signal, stdout, stderr });
      };
      if (proc.stdout.readableEnded) done();
      else proc.stdout.on('end', done);
      if (proc.stderr.readableEnded) done();
      else proc.stderr.on('end', done);
    });
  });
}

function appendBounded(buffer, chunk) {
  const next = buffer + chunk;
  return next.length > OUTPUT_LIMIT ? next.slice(next.length - OUTPUT_LIMIT) : next;
}

// Waits for a spawned process to exit; resolves {code, signal}.
function exited(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  }
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
}

/**
 * Starts `flashsale serve` on a free port of 127.0.0.1.
 *
 * options:
 *   dataDir   use this data dir (default: a fresh temporary one, removed by stop()/cleanup())
 *   env       extra environment variables
 *   args      extra arguments after the standard ones
 *   adminKey  the admin key; null to start without one (e.g. --demo)
 *   threads   --threads (default 2; 'default' passes none, so the server picks its own count)
 *   listen    --listen (default 127.0.0.1)
 *   fileSizeLimitKiB  run under `ulimit -f` (a full disk); see server.fileSizeLimitKiB
 *   nofileLimit  run under `ulimit -n N` (soft and hard file descriptor limit), or {soft, hard}
 *   viaEnv    pass listen, port, data dir, admin key and threads as LISTEN, PORT, DATA_DIR,
 *             ADMIN_KEY, THREADS instead of flags
 *   store     another server's store (server.store): a second instance on the same data, which
 *             leaves the store to its owner (distributed mode: the same Redis and PostgreSQL)
 */
export async function startServer(options = {}) {
  const mode = currentMode();
  const ownsDataDir = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'flashsale-bb-')));
  const adminKey = options.adminKey === undefined ? `key-${randomBytes(12).toString('hex')}` : options.adminKey;
  const ownsStore = !options.store;
  const store = options.store ?? (await mode.store(dataDir));

  const server = {
    mode: mode.name,
    adminKey,
    dataDir,
    store,
    // The storage flags the mode adds to `serve` (distributed: --redis, --postgres, ...).
    storeArgs: store.args,
    url: null,
    port: null,
    proc: null,
    stdout: '',
    stderr: '',
    agent: keepAliveAgent(16),
    // The store's own `serve` arguments (e.g. --redis/--postgres): a second instance on the same
    // store passes them too.
    storeArgs: store.args,
    // When set, the next launch() runs the server with files limited to this many KiB.
    fileSizeLimitKiB: options.fileSizeLimitKiB ?? null,
    async dbQuery(sql) {
      await store.settle?.();
      return store.dbQuery(sql);
    },

    // port: listen there (a restart that clients must find again); default a free one.
    async launch(port = undefined) {
      port ??= await freePort();
      const listen = options.listen ?? '127.0.0.1';
      const config = { LISTEN: listen, PORT: String(port), DATA_DIR: dataDir };
      if (options.threads !== 'default') config.THREADS = String(options.threads ?? 2);
      if (adminKey !== null) config.ADMIN_KEY = adminKey;
      const flagOf = { LISTEN: '--listen', PORT: '--port', DATA_DIR: '--data-dir', THREADS: '--threads', ADMIN_KEY: '--admin-key' };
      const args = ['serve'];
      if (!options.viaEnv) for (const [name, value] of Object.entries(config)) args.push(flagOf[name], value);
      args.push(...store.args, ...(options.args ?? []));
      const env = cleanEnv({ ...(options.viaEnv ? config : {}), ...store.env, ...(options.env ?? {}) });
      let proc;
      if (this.fileSizeLimitKiB || options.nofileLimit) {
        // RLIMIT_FSIZE makes writes past the limit fail (EFBIG) — a disk that cannot take more.
        // SIGXFSZ is ignored (inherited through exec) so that the write fails instead of killing.
        const limits = [];
        if (this.fileSizeLimitKiB) limits.push(`trap '' XFSZ; ulimit -f ${Number(this.fileSizeLimitKiB)}`);
        const nofile = options.nofileLimit;
        if (typeof nofile === 'number') limits.push(`ulimit -n ${nofile}`);
        else if (nofile) limits.push(`ulimit -Sn ${Number(nofile.soft)} && ulimit -Hn ${Number(nofile.hard)}`);
        const script = `${limits.join(' && ')} && exec "$0" "$@"`;
        proc = spawn('bash', ['-c', script, BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      } else {
        proc = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      }
      liveProcesses.add(proc);
      proc.on('exit', () => liveProcesses.delete(proc));
      this.stdout = '';
      this.stderr = '';
      proc.stdout.on('data', (d) => (this.stdout = appendBounded(this.stdout, d)));
      proc.stderr.on('data', (d) => (this.stderr = appendBounded(this.stderr, d)));
      const spawnError = new Promise((_, reject) => proc.once('error', reject));
      spawnError.catch(() => {});
      this.proc = proc;
      this.port = port;
      this.url = `http://${listen}:${port}`;
      this.agent.destroy();
      this.agent = keepAliveAgent(16);

      const deadline = Date.now() + STARTUP_TIMEOUT_MS;
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
          throw new Error(`flashsale exited during startup (code ${proc.exitCode}, signal ${proc.signalCode})\nargs: ${args.join(' ')}\nstderr: ${this.stderr}`);
        }
        try {
          await Promise.race([httpRequest(`${this.url}/health`, { timeoutMs: 1000 }), spawnError]);
          return this;
        } catch (err) {
          if (err.code === 'ENOENT' && err.syscall?.startsWith('spawn')) throw new Error(`cannot run ${BIN}: build it with make`);
        }
        if (Date.now() > deadline) {
          proc.kill('SIGKILL');
          throw new Error(`flashsale did not answer /health within ${STARTUP_TIMEOUT_MS} ms\nstderr: ${this.stderr}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },

    // SIGTERM, wait for the exit, and insist on exit code 0. Leaves the data dir in place.
    async stopProcess(signal = 'SIGTERM') {
      const proc = this.proc;
      if (!proc) return;
      this.agent.destroy();
      const exit = exited(proc);
      proc.kill(signal);
      const timer = new Promise((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS).unref());
      const result = await Promise.race([exit, timer]);
      this.proc = null;
      if (result === 'timeout') {
        proc.kill('SIGKILL');
        await exit;
        assert.fail(`flashsale did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}\nstderr: ${this.stderr}`);
      }
      assert.deepEqual(result, { code: 0, signal: null }, `flashsale should exit 0 on ${signal}\nstderr: ${this.stderr}`);
    },

    // SIGKILL (a crash); resolves once the process is gone.
    async kill() {
      const proc = this.proc;
      if (!proc) return;
      this.agent.destroy();
      const exit = exited(proc);
      proc.kill('SIGKILL');
      await exit;
      this.proc = null;
    },

    // Starts again on the same data dir (and store), on a fresh port, or with samePort on the
    // port it had (for clients that reconnect, like a browser's event stream).
    async restart({ samePort = false } = {}) {
      const port = samePort ? this.port : undefined;
      if (this.proc) await this.stopProcess();
      await this.launch(port);
      return this;
    },

    // Graceful stop (asserting exit 0), then removes the temporary data dir and store.
    async stop() {
      try {
        await this.stopProcess();
      } finally {
        await this.cleanup();
      }
    },

    async cleanup() {
      if (this.proc) await this.kill();
      this.agent.destroy();
      if (ownsStore) await store.dispose?.();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },

    /**
     * One API call. opts: body (object -> JSON, string/Buffer as is), headers, userId
     * (X-User-Id), admin (true: the right X-Admin-Key; a string: that key), agent, chunked.
     * Resolves {status, headers, json, text}.
     */
    api(method, urlPath, opts = {}) {
      const headers = { ...(opts.headers ?? {}) };
      if (opts.userId !== undefined) headers['X-User-Id'] = opts.userId;
      if (opts.admin === true) headers['X-Admin-Key'] = adminKey;
      else if (typeof opts.admin === 'string') headers['X-Admin-Key'] = opts.admin;
      return httpRequest(`${this.url}${urlPath}`, { method, headers, body: opts.body, agent: opts.agent ?? this.agent, timeoutMs: opts.timeoutMs, chunked: opts.chunked });
    },

    // --- conveniences built on api() ---

    // Creates a sale (admin) and asserts 201; returns the created object.
    async createSale(fields = {}) {
      const body = {
        sku: fields.sku ?? uniqueSku(),
        productName: fields.productName ?? 'Test product',
        initialStock: fields.initialStock ?? 10,
        startTime: fields.startTime ?? isoIn(-60_000),
        endTime: fields.endTime ?? isoIn(3_600_000),
      };
      const res = await this.api('POST', '/api/v1/products', { admin: true, body });
      assert.equal(res.status, 201, `create ${body.sku}: ${res.text}`);
      assert.equal(res.json.success, true);
      return res.json.data;
    },

    // DELETE (admin); the contract does not fix the status, so 200 (envelope) or 204 are fine.
    async deleteSale(sku) {
      const res = await this.api('DELETE', `/api/v1/products/${encodeURIComponent(sku)}`, { admin: true });
      assert.ok(res.status === 200 || res.status === 204, `DELETE ${sku}: ${res.status} ${res.text}`);
      if (res.status === 200) assert.equal(res.json?.success, true, res.text);
      return res;
    },

    purchase(sku, userId, opts = {}) {
      return this.api('POST', '/api/v1/purchases', { userId, body: { sku }, ...opts });
    },

    async sale(sku) {
      const res = await this.api('GET', `/api/v1/sales?sku=${encodeURIComponent(sku)}`);
      assert.equal(res.status, 200, `GET sale ${sku}: ${res.text}`);
      return res.json.data;
    },

    async product(sku) {
      const res = await this.api('GET', `/api/v1/products/${encodeURIComponent(sku)}`, { admin: true });
      assert.equal(res.status, 200, `GET product ${sku}: ${res.text}`);
      return res.json.data;
    },

    // Every purchase of a sale through the admin listing, following the cursor.
    async allPurchases(sku, limit = 1000) {
      const out = [];
      let after = null;
      for (let page = 0; page < 100_000; page++) {
        const q = new URLSearchParams({ limit: String(limit) });
        if (after !== null) q.set('after', after);
        const res = await this.api('GET', `/api/v1/products/${encodeURIComponent(sku)}/purchases?${q}`, { admin: true });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json.success, true);
        out.push(...res.json.data);
        after = res.json.meta.nextCursor;
        if (after === null) return out;
      }
      assert.fail('purchase listing never ended');
    },

    async dbCount(sql) {
      const rows = await this.dbQuery(sql);
      return Number(rows[0].n);
    },
  };

  try {
    await server.launch();
  } catch (err) {
    await server.cleanup().catch(() => {});
    throw err;
  }
  return server;
}

// Fires all requests at once (they overlap up to the agent's socket limit) and collects the
// answers; a transport error becomes {error}.
export async function storm(items, fn) {
  return Promise.all(items.map(async (item) => {
    try {
      return await fn(item);
    } catch (error) {
      return { error };
    }
  }));
}

// The value of a Prometheus text sample set: the sum of every sample of `name` whose labels
// contain all of `labels` (exact label values).
export function metricSum(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[3] ?? '';
    const have = {};
    for (const lm of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[lm[1]] = lm[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[4]);
      found = true;
    }
  }
  return found ? sum : undefined;
}

// The sum of the samples of `name` that carry `value` as any label's value.
export function metricSumWithLabelValue(text, name, value) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    if ([...m[2].matchAll(/="((?:[^"\\]|\\.)*)"/g)].some((lm) => lm[1] === value)) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : undefined;
}

// ---------------------------------------------------------------------------------------------
// Assertions on the envelope

// Asserts {"success":true,"data":...} with that HTTP status and returns data.
export function assertOk(res, status = 200) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.success, true, res.text);
  assert.ok('data' in res.json, res.text);
  return res.json.data;
}

// Asserts {"success":false,"error":{code, message, ...extra}} with that HTTP status.
export function assertError(res, status, code, extra = {}) {
  assert.equal(res.status, status, `expected HTTP ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.success, false, res.text);
  assert.equal(res.json.error?.code, code, res.text);
  assert.equal(typeof res.json.error.message, 'string', res.text);
  assert.ok(res.json.error.message.length > 0, res.text);
  for (const [key, value] of Object.entries(extra)) assert.equal(res.json.error[key], value, `error.${key}: ${res.text}`);
  return res.json.error;
}
