// scripts/cluster-demo.sh, run for real: Redis, PostgreSQL, three instances, a worker and nginx in
// front. A storm through nginx sells exactly the stock and PostgreSQL ends with exactly those orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MODE_NAME, httpRequest, isoIn, storm, stormAgent, uniqueSku, uniqueUser, waitFor } from './lib/harness.mjs';

const run = promisify(execFile);
const script = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../scripts/cluster-demo.sh');

// The demo takes DEMO_PORT and the eleven ports after it. They are picked below the kernel's
// ephemeral range (32768 and up here), so that the demo's own outgoing connections to Redis and
// PostgreSQL cannot take one of them between this check and the moment nginx binds it.
async function freePortRange(count) {
  const isFree = (port) => new Promise((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await isFree(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

test('cluster demo: three instances behind nginx sell exactly the stock, and PostgreSQL gets every order once',
  { skip: MODE_NAME !== 'distributed' && 'distributed mode only', timeout: 180_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-cluster-'));
    await chmod(dir, 0o755); // PostgreSQL runs as the postgres user and must reach its directory
    const base = await freePortRange(12);
    const env = { ...process.env, DEMO_DIR: dir, DEMO_PORT: String(base), ADMIN_KEY: 'cluster-demo-test-key' };
    const url = `http://127.0.0.1:${base}`;
    try {
      await run(script, ['start'], { env, timeout: 150_000 }).catch(async (error) => {
        // the directory is destroyed below: keep what the processes said in the failure
        const logs = await run('sh', ['-c', `tail -n 20 "${dir}"/*.log 2>&1`]).catch((e) => e);
        error.message += `\n${logs.stdout ?? logs}`;
        throw error;
      });
      const sku = uniqueSku('CLUSTER');
      const created = await httpRequest(`${url}/api/v1/products`, {
        method: 'POST',
        headers: { 'X-Admin-Key': env.ADMIN_KEY },
        body: { sku, productName: 'cluster demo', initialStock: 100, startTime: isoIn(-1000), endTime: isoIn(3_600_000) },
      });
      assert.equal(created.status, 201, created.text);

      const agent = stormAgent(128);
      const users = Array.from({ length: 600 }, () => uniqueUser('cluster'));
      const answers = await storm(users, (user) => httpRequest(`${url}/api/v1/purchases`, {
        method: 'POST', headers: { 'X-User-Id': user }, body: { sku }, agent,
      }));
      agent.destroy();
      const successes = answers.filter((a) => a.json?.success);
      assert.equal(successes.length, 100, `successes: ${successes.length}`);
      assert.ok(answers.every((a) => a.json?.success || a.json?.error?.code === 'SOLD_OUT'), 'every other answer is SOLD_OUT');

      const psql = (sql) => run('psql', ['-h', '127.0.0.1', '-p', String(base + 11), '-U', 'postgres', '-d', 'postgres', '-tAc', sql], { env });
      const rows = await waitFor(async () => {
        const { stdout } = await psql(`SELECT user_id || ' ' || purchase_no FROM purchases WHERE sku = '${sku}'`);
        const lines = stdout.trim().split('\n').filter(Boolean);
        return lines.length === 100 && lines;
      }, { timeoutMs: 30_000, what: 'the worker to persist 100 orders' });
      const persisted = new Map(rows.map((line) => line.split(' ')));
      for (const s of successes) assert.equal(persisted.get(s.json.data.userId), s.json.data.purchaseNo);
    } finally {
      await run(script, ['destroy'], { env, timeout: 60_000 }).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  });
