// The distributed mode of the black-box harness: the server on Redis + PostgreSQL, with its
// worker inside (`serve --with-worker`), both services started through scripts/services.sh.
//
// Each store (one per data dir, see harness.mjs) gets its own redis-server on a free port, with
// its files under the data dir, so that a restart of the server finds its Redis again and a
// test may crash or flush it without touching other tests. PostgreSQL is one instance shared by
// every test process of the run (started once; services.sh serializes concurrent starts), with
// a fresh database per store. It is left running for the next run; `scripts/services.sh destroy`
// with the same SERVICES_DIR and PG_PORT stops it.
//
// PostgreSQL lags Redis by design: the worker copies each order after the purchase was answered.
// settle() waits until every sale stream is empty — the worker deletes an order from its stream
// only after PostgreSQL committed it — so that a query sees every acknowledged purchase.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVICES = path.join(repoRoot, 'scripts', 'services.sh');
export const POSTGRES_DIR = process.env.FLASHSALE_BB_POSTGRES_DIR || path.join(os.tmpdir(), 'flashsale-bb-postgres');
export const POSTGRES_PORT = Number(process.env.FLASHSALE_BB_POSTGRES_PORT || 55433);
// A killed worker's orders are claimed after 5 s (worker.h); allow for that and a slow machine.
const SETTLE_TIMEOUT_MS = 60_000;

// Sum of the lengths of every sale's order stream (outbox.h's layout).
export const UNPERSISTED_SCRIPT = `
local n = 0
for _, sku in ipairs(redis.call('SMEMBERS', 'flashsale:sales')) do
  n = n + redis.call('XLEN', 'flashsale:{' .. sku .. '}:orders')
end
return n`;

export function run(file, args, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        err.message += `\nstderr: ${stderr}`;
        reject(err);
      } else {
        resolve(stdout);
      }
    });
  });
}

function freePort() {
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

const postgresEnv = { SERVICES_DIR: POSTGRES_DIR, PG_PORT: String(POSTGRES_PORT) };
const adminUrl = `postgresql://postgres@127.0.0.1:${POSTGRES_PORT}/postgres`;

function psql(url, sql) {
  return run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', url, '-c', sql]);
}

export const distributedMode = {
  name: 'distributed',
  async store(dataDir) {
    await run(SERVICES, ['start', 'postgres'], postgresEnv);
    const redisEnv = { SERVICES_DIR: path.join(dataDir, 'services'), REDIS_PORT: String(await freePort()) };
    await run(SERVICES, ['start', 'redis'], redisEnv);
    const database = `bb_${randomBytes(6).toString('hex')}`;
    await psql(adminUrl, `CREATE DATABASE ${database}`);
    const redisUrl = `redis://127.0.0.1:${redisEnv.REDIS_PORT}`;
    const postgresUrl = `postgresql://postgres@127.0.0.1:${POSTGRES_PORT}/${database}`;
    const redisCli = (...args) => run('redis-cli', ['-p', redisEnv.REDIS_PORT, ...args]);

    return {
      args: ['--redis', redisUrl, '--postgres', postgresUrl, '--with-worker'],
      env: {},
      redisUrl,
      postgresUrl,
      // services.sh on this store's Redis: ('kill'), ('start'), ('stop').
      redisService: (command) => run(SERVICES, [command, 'redis'], redisEnv),
      redisCli,

      async dbQuery(sql) {
        const text = await psql(postgresUrl, `SELECT coalesce(json_agg(q), '[]'::json) FROM (${sql.trim().replace(/;$/, '')}) q`);
        return JSON.parse(text);
      },

      async settle() {
        const deadline = Date.now() + SETTLE_TIMEOUT_MS;
        let left;
        for (;;) {
          left = Number((await redisCli('EVAL', UNPERSISTED_SCRIPT, '0')).trim());
          if (left === 0) return;
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        throw new Error(`${left} orders still not in PostgreSQL after ${SETTLE_TIMEOUT_MS} ms (is a worker running?)`);
      },

      async dispose() {
        await run(SERVICES, ['destroy'], redisEnv);
        await psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      },
    };
  },
};
