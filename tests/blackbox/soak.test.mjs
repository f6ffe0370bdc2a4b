// Soak: a sustained storm against the server's default thread count, long enough to find what a
// short one hides (a loop's sockets created on another thread crashed the server after 20k-170k
// purchases). Two wrk runs go at once for SOAK_SECONDS (default 30):
//   - a storm of distinct buyers on a sale that never sells out, so that every request is a
//     durable success waiting on the store, and
//   - a fixed crowd of buyers hammering a small sale again and again (sold out within the run,
//     then ALREADY_PURCHASED and SOLD_OUT for the rest of it).
// Afterwards the server must still be alive, and the store must agree with every answer given.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, uniqueSku, sqlString } from './lib/harness.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS || 30);
const STORM_CONNECTIONS = 48;
const HAMMER_CONNECTIONS = 16;
const HAMMER_BUYERS = 2000;
const HAMMER_STOCK = 500;
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'wrk', 'buyers.lua');

let server;
let outDir;
before(async () => {
  server = await startServer({ threads: 'default' });
  outDir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-soak-'));
});
after(async () => {
  await server?.stop();
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

function wrk({ sku, prefix, threads, connections, duplicates = 0 }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${SECONDS}s`, '--timeout', '10s', '-s', SCRIPT, server.url];
  const env = { ...process.env, SKU: sku, USER_PREFIX: prefix, OUT_DIR: outDir, DUPLICATES: String(duplicates) };
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { env }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk failed: ${err.message}\n${stderr}`));
      const m = /RESULT requests=(\d+) errors=(\d+)/.exec(stdout);
      if (!m) return reject(new Error(`wrk printed no result:\n${stdout}\n${stderr}`));
      resolve({ requests: Number(m[1]), errors: Number(m[2]) });
    });
  });
}

// Every answer wrk saw for one run, as {status, success, user, value, purchaseNo}: value is the
// purchaseNo of a success, else the error code (see lib/wrk/buyers.lua).
async function answers(prefix) {
  const out = [];
  for (const name of await readdir(outDir)) {
    if (!name.startsWith(`answers-${prefix}-`)) continue;
    for (const line of (await readFile(path.join(outDir, name), 'utf8')).split('\n')) {
      if (line === '') continue;
      const [status, user, value, purchaseNo] = line.split(' ');
      out.push({ status: Number(status), success: user !== '-', user, value, purchaseNo });
    }
  }
  return out;
}

test(`a ${SECONDS} s storm of distinct buyers plus duplicate hammering, default threads: no crash, the store agrees with every answer`, { timeout: (SECONDS + 240) * 1000 }, async () => {
  const storm = await server.createSale({ sku: uniqueSku('SOAK'), initialStock: 10_000_000 });
  const hammer = await server.createSale({ sku: uniqueSku('HAMMER'), initialStock: HAMMER_STOCK });

  const [stormRun, hammerRun] = await Promise.all([
    wrk({ sku: storm.sku, prefix: 'storm', threads: 1, connections: STORM_CONNECTIONS }),
    wrk({ sku: hammer.sku, prefix: 'hammer', threads: 1, connections: HAMMER_CONNECTIONS, duplicates: HAMMER_BUYERS }),
  ]);
  assert.equal(server.proc?.exitCode, null, `the server died during the storm\nstderr: ${server.stderr}`);
  assert.equal(server.proc?.signalCode, null, `the server died during the storm\nstderr: ${server.stderr}`);

  // The storm: every answer was a success, and the store holds exactly those orders plus at most
  // the requests still in flight when wrk stopped (decided, but their answers never read).
  const stormAnswers = await answers('storm');
  const notSuccess = stormAnswers.filter((a) => a.status !== 200 || !a.success);
  assert.deepEqual(notSuccess.slice(0, 5), [], `${notSuccess.length} storm answers were not a success`);
  assert.ok(stormAnswers.length > 1000, `only ${stormAnswers.length} storm answers: not a storm`);
  const stormRows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(storm.sku)}`);
  const stored = new Map(stormRows.map((r) => [r.purchase_no, r.user_id]));
  assert.equal(stored.size, stormRows.length, 'a purchaseNo is stored twice');
  assert.equal(new Set(stormRows.map((r) => r.user_id)).size, stormRows.length, 'a buyer holds two orders');
  const lost = stormAnswers.filter((a) => stored.get(a.value) !== a.user);
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} acknowledged purchases are missing from the store`);
  assert.ok(stormRows.length - stormAnswers.length <= STORM_CONNECTIONS,
    `${stormRows.length} stored but ${stormAnswers.length} answered: more than the ${STORM_CONNECTIONS} in flight`);
  const stormSale = await server.product(storm.sku);
  assert.equal(stormSale.totalPurchases, stormRows.length);
  assert.equal(stormSale.currentStock, storm.initialStock - stormRows.length);

  // The hammer: HAMMER_BUYERS buyers against HAMMER_STOCK units, each many times over.
  const hammerAnswers = await answers('hammer');
  assert.ok(hammerAnswers.length >= HAMMER_BUYERS * 2, `only ${hammerAnswers.length} hammer answers`);
  const hammerRows = await server.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(hammer.sku)}`);
  assert.equal(hammerRows.length, Math.min(HAMMER_STOCK, HAMMER_BUYERS), 'sold != min(stock, buyers)');
  assert.equal(new Set(hammerRows.map((r) => r.user_id)).size, hammerRows.length, 'a buyer holds two orders');
  const hammerStored = new Map(hammerRows.map((r) => [r.purchase_no, r.user_id]));
  let successes = 0;
  for (const a of hammerAnswers) {
    assert.equal(a.status, 200, `unexpected hammer answer ${a.status} ${a.value}`);
    if (a.success) {
      successes += 1;
      assert.equal(hammerStored.get(a.value), a.user, `acknowledged ${a.value} is not stored for ${a.user}`);
    } else if (a.value === 'ALREADY_PURCHASED') {
      assert.ok(hammerStored.has(a.purchaseNo), `ALREADY_PURCHASED named ${a.purchaseNo}, which is not stored`);
    } else {
      assert.equal(a.value, 'SOLD_OUT', `unexpected hammer answer ${a.status} ${a.value}`);
    }
  }
  assert.ok(successes <= HAMMER_STOCK);
  const hammerSale = await server.product(hammer.sku);
  assert.equal(hammerSale.currentStock, 0);
  assert.equal(hammerSale.totalPurchases, HAMMER_STOCK);

  assert.equal(stormRun.errors + hammerRun.errors, 0, 'wrk saw transport errors');
  const health = await server.api('GET', '/health');
  assert.equal(health.status, 200, health.text);
});
