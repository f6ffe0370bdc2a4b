// GET /health and GET /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueUser, assertOk, assertError, metricSum, metricSumWithLabelValue, waitFor, sqlString, MODE_NAME } from './lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

async function metrics() {
  const res = await server.api('GET', '/metrics');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers['content-type'] ?? '', /^text\/plain/);
  return res.text;
}

test('GET /health -> 200 {status: "ok", uptime, checks}', async () => {
  const res = await server.api('GET', '/health');
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.status, 'ok');
  assert.equal(typeof res.json.uptime, 'number');
  assert.ok(res.json.uptime >= 0);
  assert.equal(typeof res.json.checks, 'object');
  assert.ok(res.json.checks !== null);
  assert.ok(Object.keys(res.json.checks).length >= 1, `no checks: ${res.text}`);
  // uptime grows.
  const first = res.json.uptime;
  const later = await (async () => {
    for (let i = 0; i < 200; i++) {
      const r = await server.api('GET', '/health');
      if (r.json.uptime > first) return r.json.uptime;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return first;
  })();
  assert.ok(later > first, 'uptime never grew');
});

test('GET /metrics: Prometheus text whose counters move with the traffic', async () => {
  const { sku } = await server.createSale({ initialStock: 5 });
  const before = await metrics();
  const successBefore = metricSumWithLabelValue(before, 'flashsale_purchase_outcomes_total', 'success') ?? 0;
  const soldOutBefore = metricSumWithLabelValue(before, 'flashsale_purchase_outcomes_total', 'sold_out') ?? 0;
  const requestsBefore = metricSum(before, 'flashsale_http_requests_total') ?? 0;
  const okBefore = metricSumWithLabelValue(before, 'flashsale_http_requests_total', '200') ?? 0;
  const infBefore = metricSum(before, 'flashsale_http_request_duration_seconds_bucket', { le: '+Inf' }) ?? 0;

  const buyers = Array.from({ length: 5 }, () => uniqueUser());
  for (const u of buyers) assertOk(await server.purchase(sku, u));
  assertError(await server.purchase(sku, uniqueUser()), 200, 'SOLD_OUT');
  assertError(await server.purchase(sku, uniqueUser()), 200, 'SOLD_OUT');

  const after = await metrics();
  for (const name of ['flashsale_http_requests_total', 'flashsale_purchase_outcomes_total', 'flashsale_http_request_duration_seconds_bucket']) {
    assert.match(after, new RegExp(`^${name}`, 'm'), `${name} missing from /metrics`);
  }
  assert.match(after, /^# TYPE flashsale_http_requests_total counter/m);
  assert.equal(metricSumWithLabelValue(after, 'flashsale_purchase_outcomes_total', 'success') - successBefore, 5);
  assert.equal(metricSumWithLabelValue(after, 'flashsale_purchase_outcomes_total', 'sold_out') - soldOutBefore, 2);
  // Since the first /metrics: that call and 7 purchases, all 200. (A request may be counted just
  // after its reply was sent, so the last one is allowed to be missing.)
  assert.ok(metricSum(after, 'flashsale_http_requests_total') - requestsBefore >= 7, 'flashsale_http_requests_total did not move');
  assert.ok(metricSumWithLabelValue(after, 'flashsale_http_requests_total', '200') - okBefore >= 7, 'requests are not counted by status');
  const inf = metricSum(after, 'flashsale_http_request_duration_seconds_bucket', { le: '+Inf' });
  assert.ok(inf !== undefined && inf - infBefore >= 7, `the latency histogram's +Inf bucket did not count the requests: ${infBefore} -> ${inf}`);
  if (MODE_NAME === 'embedded') {
    // Group commit: at least one batch was committed (a histogram or a gauge, whichever is exported).
    const batchSamples = after.split('\n').filter((l) => l.startsWith('flashsale_ledger_batch_size'));
    assert.ok(batchSamples.some((l) => Number(l.trim().split(/\s+/).pop()) > 0), `flashsale_ledger_batch_size never moved:\n${batchSamples.join('\n')}`);
    // The group commit's duration (the commit is where the fsync happens) and the audit's drop
    // counter are exported.
    assert.match(after, /^flashsale_ledger_\w*(fsync|commit)\w*_seconds_bucket/m, 'no fsync/commit time histogram');
    assert.match(after, /^flashsale_\w*audit\w*drop\w*/m, 'no audit drop counter');
  } else {
    // The distributed engine's own series: every purchase was one Redis script.
    assert.ok(metricSum(after, 'flashsale_redis_commands_total') >= 7, 'flashsale_redis_commands_total did not count the purchases');
  }
  // Every attempt reaches the audit (written, or counted as dropped), off the purchase path.
  if (MODE_NAME === 'embedded') {
    const audited = (text) => (metricSum(text, 'flashsale_audit_written_total') ?? 0) + (metricSum(text, 'flashsale_audit_dropped_total') ?? 0);
    const auditBefore = audited(before);
    await waitFor(async () => audited(await metrics()) - auditBefore >= 7, { what: 'the audit to account for 7 attempts' });
  }
});

test('a ledger that cannot write: /health 503, no purchase is confirmed, nothing confirmed is lost', { skip: MODE_NAME !== 'embedded' && 'embedded mode only (the disk is made full with ulimit -f)' }, async () => {
  // Files may not grow past 256 KiB: after a few commits the ledger's writes fail (EFBIG).
  const full = await startServer({ fileSizeLimitKiB: 256 });
  try {
    const { sku } = await full.createSale({ initialStock: 100_000 });
    assert.equal((await full.api('GET', '/health')).status, 200);
    const confirmed = [];
    let unconfirmed = null;
    for (let i = 0; i < 5000 && !unconfirmed; i++) {
      const user = uniqueUser('full');
      let res;
      try {
        res = await full.purchase(sku, user, { timeoutMs: 5000 });
      } catch (error) {
        res = { error };
      }
      if (res.json?.success) confirmed.push(res.json.data);
      else unconfirmed = res;
    }
    assert.ok(unconfirmed, `${confirmed.length} purchases were confirmed although files cannot grow past 256 KiB: confirmed without being committed? /health: ${(await full.api('GET', '/health')).text}`);
    // The first purchase that was not confirmed was answered (no hang): 503, outcome unknown.
    assert.ok(!unconfirmed.error, `the purchase hung instead of answering 503: ${unconfirmed.error}`);
    assertError(unconfirmed, 503, 'SERVICE_UNAVAILABLE');

    const health = await waitFor(async () => {
      const h = await full.api('GET', '/health');
      return h.status === 503 && h;
    }, { timeoutMs: 10_000, what: '/health 503' });
    assert.notEqual(health.json.status, 'ok');
    assert.equal(typeof health.json.checks, 'object');
    // No purchase is confirmed while the ledger cannot write.
    for (let i = 0; i < 3; i++) {
      const res = await full.purchase(sku, uniqueUser('full'), { timeoutMs: 5000 });
      assertError(res, 503, 'SERVICE_UNAVAILABLE');
    }

    // After a crash and a restart with room on the disk, every confirmed purchase is there.
    await full.kill();
    full.fileSizeLimitKiB = null;
    await full.launch();
    assert.equal((await full.api('GET', '/health')).status, 200);
    const rows = await full.dbQuery(`SELECT purchase_no, user_id FROM purchases WHERE sku = ${sqlString(sku)}`);
    const db = new Map(rows.map((r) => [r.user_id, r.purchase_no]));
    for (const p of confirmed) assert.equal(db.get(p.userId), p.purchaseNo, `confirmed purchase ${p.purchaseNo} lost`);
    const product = await full.product(sku);
    assert.equal(product.totalPurchases, rows.length);
    assert.equal(product.currentStock + product.totalPurchases, 100_000);
  } finally {
    await full.stop();
  }
});
