// GET /api/v1/sales/events: the live events as server-sent events, read byte for byte from a raw
// socket (lib/sse.mjs). The framing and headers of the contract; the first state on every connect;
// stock updates after purchases, coalesced; a sell-out's stock update before its state change; the
// clock opening and ending a sale with no purchase; a sku that does not exist yet; a reconnect
// with Last-Event-ID; the stream of every sale (new sales, deletions); the heartbeat; the limit
// on subscribers; a subscriber that does not read (it lags, is brought up to date, or is cut off
// while the others are served); and, in distributed mode, a purchase on one instance reaching a
// subscriber of another.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  BIN, MODE_NAME, startServer, uniqueSku, uniqueUser, isoIn, waitFor, freePort, cleanEnv, httpRequest,
  stormAgent, metricSum, assertOk,
} from './lib/harness.mjs';
import { openStream, eventsOf, assertFraming } from './lib/sse.mjs';

const HEARTBEAT_MS = 500;
const SSE_CLIENT = path.join(path.dirname(BIN), 'sse-client');

let server;
before(async () => {
  server = await startServer({ args: ['--events-heartbeat', `${HEARTBEAT_MS}ms`] });
});
after(async () => {
  await server?.stop();
});

const streams = [];
function stream(query, options) {
  return openStream(server.url, query, options).then((s) => {
    streams.push(s);
    return s;
  });
}
after(() => {
  for (const s of streams) s.close();
});

async function metrics(target = server) {
  const res = await httpRequest(`${target.url}/metrics`);
  assert.equal(res.status, 200);
  return res.text;
}

// The buyer's state of a sale from the public API, in the shape of an `initial` event.
async function initialFromApi(sku) {
  const sale = await server.sale(sku);
  const expected = {
    sku: sale.sku, state: sale.state, stock: sale.stock, initialStock: sale.initialStock,
    productName: sale.productName, startTime: sale.startTime, endTime: sale.endTime,
  };
  if (sale.state === 'ENDED') expected.endReason = sale.endReason;
  return expected;
}

test('the stream: 200, text/event-stream, no-cache, X-Accel-Buffering: no, a retry line, then initial', async () => {
  const { sku } = await server.createSale({ initialStock: 7, productName: 'Widget "quoted" ünïcode' });
  const s = await stream(`?sku=${sku}`);
  assert.equal(s.status, 200);
  assert.equal(s.headers['content-type'], 'text/event-stream');
  assert.equal(s.headers['cache-control'], 'no-cache');
  assert.equal(s.headers['x-accel-buffering'], 'no');
  const first = await s.next();
  assert.equal(s.retry, 2000);
  assert.ok(s.body.startsWith('retry: 2000\n\nid: 1\ndata: {"type":"initial","data":{'), s.body);
  assert.equal(first.id, 1);
  assert.deepEqual(first.data, { type: 'initial', data: await initialFromApi(sku) });
  assert.equal(first.data.data.endReason, undefined);
  assertFraming(s);
});

test('stock-update follows purchases, coalesced: a burst gives few updates, the last one right', async () => {
  const { sku } = await server.createSale({ initialStock: 1000 });
  const s = await stream(`?sku=${sku}`);
  await s.next((e) => e.data.type === 'initial');
  assertOk(await server.purchase(sku, uniqueUser()));
  // the first change after a quiet window goes out at once
  const firstUpdate = await s.next((e) => e.data.type === 'stock-update');
  assert.deepEqual(firstUpdate.data, { type: 'stock-update', data: { sku, stock: 999 } });

  const agent = stormAgent(64);
  const buyers = Array.from({ length: 300 }, () => uniqueUser('burst'));
  const burstStart = Date.now();
  const answers = await Promise.all(buyers.map((user) => server.purchase(sku, user, { agent })));
  agent.destroy();
  for (const a of answers) assertOk(a);
  const last = await s.next((e) => e.data.type === 'stock-update' && e.data.data.stock === 699, { what: 'stock 699' });
  const updates = eventsOf(s, sku, 'stock-update').slice(1);
  // Rounds are at least 100 ms apart on the server, and every round of the burst happened between
  // its first request and the arrival of its last update: however late some arrived, no more fit.
  const spanMs = last.at - burstStart;
  assert.ok(updates.length <= Math.floor(spanMs / 100) + 1, `${updates.length} updates in ${spanMs} ms`);
  assert.ok(updates.length < 300 / 3, `${updates.length} updates for 300 purchases`);
  // stock only goes down, and the stream agrees with the API at the end
  for (let i = 1; i < updates.length; i++) assert.ok(updates[i].data.data.stock < updates[i - 1].data.data.stock);
  assert.equal((await server.sale(sku)).stock, 699);
  assertFraming(s);
});

test('a sell-out: the stock-update to 0, then state-change ENDED SOLD_OUT, at once and in that order', async () => {
  const { sku } = await server.createSale({ initialStock: 3 });
  const s = await stream(`?sku=${sku}`);
  await s.next((e) => e.data.type === 'initial');
  await Promise.all(Array.from({ length: 6 }, () => server.purchase(sku, uniqueUser())));
  const ended = await s.next((e) => e.data.type === 'state-change');
  const index = s.events.indexOf(ended);
  assert.deepEqual(s.events[index - 1].data, { type: 'stock-update', data: { sku, stock: 0 } });
  assert.deepEqual(ended.data, { type: 'state-change', data: { sku, state: 'ENDED', reason: 'SOLD_OUT' } });
  // an initial now says so too
  const again = await stream(`?sku=${sku}`);
  const initial = await again.next();
  assert.equal(initial.data.data.state, 'ENDED');
  assert.equal(initial.data.data.endReason, 'SOLD_OUT');
  assert.equal(initial.data.data.stock, 0);
});

test('a round to more streams than a loop writes in one turn reaches all of them, in order', async () => {
  // A loop writes its streams in slices of 64 a turn (http/event_stream.c): 300 streams over the
  // server's loops take several slices, and every one of them hears the sell-out, stock 0 first.
  // No heartbeat comes to write a stream that a slice left behind: the next slice must.
  const quiet = await startServer({ args: ['--events-heartbeat', '60m'] });
  const many = [];
  try {
    const { sku } = await quiet.createSale({ initialStock: 2 });
    many.push(...(await Promise.all(Array.from({ length: 300 }, () => openStream(quiet.url, `?sku=${sku}`)))));
    await Promise.all(many.map((s) => s.next((e) => e.data.type === 'initial')));
    for (const a of await Promise.all([quiet.purchase(sku, uniqueUser()), quiet.purchase(sku, uniqueUser())])) assertOk(a);
    for (const s of many) {
      const ended = await s.next((e) => e.data.type === 'state-change');
      assert.deepEqual(s.events[s.events.indexOf(ended) - 1].data, { type: 'stock-update', data: { sku, stock: 0 } });
      assert.deepEqual(ended.data.data, { sku, state: 'ENDED', reason: 'SOLD_OUT' });
    }
  } finally {
    for (const s of many) s.close();
    await quiet.stop();
  }
});

test('the clock opens and ends a sale with no purchase: ACTIVE, then ENDED TIME_EXPIRED', async () => {
  const start = Date.now() + 1200;
  const end = start + 1200;
  const { sku } = await server.createSale({ startTime: new Date(start).toISOString(), endTime: new Date(end).toISOString() });
  const s = await stream(`?sku=${sku}`);
  assert.equal((await s.next()).data.data.state, 'UPCOMING');
  const active = await s.next((e) => e.data.type === 'state-change');
  assert.deepEqual(active.data, { type: 'state-change', data: { sku, state: 'ACTIVE' } });
  assert.ok(active.at >= start - 50, `ACTIVE ${start - active.at} ms before the start`);
  const expired = await s.next((e) => e.data.type === 'state-change' && e.data.data.state === 'ENDED');
  assert.deepEqual(expired.data, { type: 'state-change', data: { sku, state: 'ENDED', reason: 'TIME_EXPIRED' } });
  assert.ok(expired.at >= end - 50, `ENDED ${end - expired.at} ms before the end`);
  assert.equal(eventsOf(s, sku).length, 3);
});

test('an unknown sku: 200 and only heartbeats, then the sale\'s initial once it is created', async () => {
  const sku = uniqueSku('LATER');
  const s = await stream(`?sku=${sku}`);
  assert.equal(s.status, 200);
  await s.nextComment(5 * HEARTBEAT_MS);
  assert.equal(s.events.length, 0);
  await server.createSale({ sku, initialStock: 4 });
  const initial = await s.next();
  assert.deepEqual(initial.data, { type: 'initial', data: await initialFromApi(sku) });
  assertFraming(s);
});

test('an invalid sku is a 400 VALIDATION_ERROR', async () => {
  const s = await stream('?sku=not%20a%20sku');
  assert.equal(s.status, 400);
  const body = JSON.parse(await s.waitBody());
  assert.equal(body.success, false);
  assert.equal(body.error.code, 'VALIDATION_ERROR');
  assert.equal(body.error.field, 'sku');
});

test('a reconnect with Last-Event-ID or ?lastEventId= gets the current state at once, never a replay', async () => {
  const { sku } = await server.createSale({ initialStock: 10 });
  const first = await stream(`?sku=${sku}`);
  await first.next();
  assertOk(await server.purchase(sku, uniqueUser()));
  await first.next((e) => e.data.type === 'stock-update');
  const lastId = first.events.at(-1).id;
  first.close();
  assertOk(await server.purchase(sku, uniqueUser()));
  await waitFor(async () => (await server.sale(sku)).stock === 8);

  const byHeader = await stream(`?sku=${sku}`, { headers: { 'Last-Event-ID': String(lastId) } });
  const resumed = await byHeader.next();
  assert.equal(resumed.id, lastId + 1);
  assert.equal(resumed.data.type, 'initial');
  assert.equal(resumed.data.data.stock, 8);
  const byQuery = await stream(`?sku=${sku}&lastEventId=${lastId}`);
  const again = await byQuery.next();
  assert.equal(again.id, lastId + 1);
  assert.deepEqual(again.data, resumed.data);
  assert.equal(byQuery.events.length, 1);
});

test('without ?sku=: every sale\'s initial, a new sale as its initial, a deletion as sale-deleted', async () => {
  const { sku: existing } = await server.createSale();
  const s = await stream('');
  await s.next((e) => e.data.data.sku === existing);
  const initials = s.events.filter((e) => e.data.type === 'initial');
  const listed = (await server.api('GET', '/api/v1/sales')).json.data.map((sale) => sale.sku);
  for (const sku of listed) assert.ok(initials.some((e) => e.data.data.sku === sku), `no initial for ${sku}`);

  const { sku: fresh } = await server.createSale({ initialStock: 2 });
  const created = await s.next((e) => e.data.data.sku === fresh);
  assert.deepEqual(created.data, { type: 'initial', data: await initialFromApi(fresh) });
  assertOk(await server.purchase(fresh, uniqueUser()));
  await s.next((e) => e.data.data.sku === fresh && e.data.type === 'stock-update');
  await server.deleteSale(existing);
  const deleted = await s.next((e) => e.data.type === 'sale-deleted');
  assert.deepEqual(deleted.data, { type: 'sale-deleted', data: { sku: existing } });
  assertFraming(s);
});

test('a sku stream hears its sale deleted, then created again', async () => {
  const { sku } = await server.createSale({ initialStock: 2 });
  const s = await stream(`?sku=${sku}`);
  await s.next();
  await server.deleteSale(sku);
  assert.deepEqual((await s.next((e) => e.data.type === 'sale-deleted')).data, { type: 'sale-deleted', data: { sku } });
  await server.createSale({ sku, initialStock: 5 });
  const again = await s.next((e) => e.data.type === 'initial' && e.data.data.stock === 5);
  assert.deepEqual(again.data, { type: 'initial', data: await initialFromApi(sku) });
});

test('an update that changes a sale sends its whole state again as an initial; one that changes nothing sends nothing', async () => {
  const { sku } = await server.createSale({ productName: 'Before', initialStock: 4, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) });
  const s = await stream(`?sku=${sku}`);
  await s.next();
  const url = `/api/v1/products/${sku}`;
  assertOk(await server.api('PUT', url, { admin: true, body: { productName: 'Before' } }));
  assertOk(await server.api('PUT', url, { admin: true, body: { productName: 'After', initialStock: 6 } }));
  // The stream is ordered: had the update that changed nothing sent anything, it would come first.
  const updated = await s.next(() => true, { from: 1 });
  assert.deepEqual(updated.data, { type: 'initial', data: await initialFromApi(sku) });
  assert.equal(updated.data.data.productName, 'After');
  assert.equal(updated.data.data.stock, 6);
  assert.equal(s.events.length, 2);
  assertFraming(s);
});

test('a heartbeat comment ": ping" keeps an idle stream alive', async () => {
  const { sku } = await server.createSale();
  const s = await stream(`?sku=${sku}`);
  await s.next();
  assert.equal(await s.nextComment(5 * HEARTBEAT_MS), 'ping');
  assert.match(s.body, /\n\n: ping\n\n/);
  assertFraming(s);
});

test('beyond --max-subscribers: 503 SERVICE_UNAVAILABLE; a stream that ends frees its place', async () => {
  const small = await startServer({ args: ['--max-subscribers', '2', '--events-heartbeat', '200ms'] });
  try {
    const open = [await openStream(small.url), await openStream(small.url)];
    assert.deepEqual(open.map((s) => s.status), [200, 200]);
    const refused = await openStream(small.url);
    assert.equal(refused.status, 503);
    const body = JSON.parse(await refused.waitBody());
    assert.equal(body.success, false);
    assert.equal(body.error.code, 'SERVICE_UNAVAILABLE');
    refused.close();
    assert.equal(metricSum(await metrics(small), 'flashsale_event_streams_refused_total'), 1);
    // the server learns of a client gone at its next write, a heartbeat at the latest
    open[0].close();
    await waitFor(async () => metricSum(await metrics(small), 'flashsale_event_streams') === 1);
    const next = await openStream(small.url);
    assert.equal(next.status, 200);
    next.close();
    open[1].close();
  } finally {
    await small.stop();
  }
});

// The slow subscriber: bench/sse_client.c with a tiny kernel receive buffer, reading nothing.
function slowSubscriber(target, query, pauseMs) {
  const url = new URL(target.url);
  const proc = spawn(SSE_CLIENT, ['slow', url.port, `/api/v1/sales/events${query}`, '2048', String(pauseMs)], {
    env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'],
  });
  const client = { proc, output: '' };
  proc.stdout.on('data', (d) => (client.output += d));
  proc.stderr.on('data', (d) => (client.output += d));
  client.exit = new Promise((resolve) => proc.once('exit', resolve));
  client.connected = () => waitFor(() => client.output.includes('CONNECTED'), { what: 'the slow subscriber' });
  client.stop = () => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    return client.exit;
  };
  return client;
}

// Sales with long names, created in waves until the slow reader's stream lags, then one more wave,
// which the lag drops. How many bytes fill a slow reader's buffers depends on the kernel (its
// socket buffer accounting, loopback segment sizes), so the waves go on until the server says so
// rather than trusting a count that fills them here. A stream that is not writing takes whatever
// one loop turn produces, so it is a later wave that overflows a stream whose write is stuck.
async function createWaves(target) {
  const skus = await createMany(target, 200);
  for (let wave = 0; wave < 30; wave++) {
    const lagged = await waitFor(async () => metricSum(await metrics(target), 'flashsale_event_streams_lagged_total') >= 1,
      { what: 'a lagging stream', timeoutMs: 1000 }).then(() => true, () => false);
    skus.push(...(await createMany(target, 60)));
    if (lagged) return skus;
  }
  throw new Error(`no stream lagged after ${skus.length} sales`);
}

async function createMany(target, count) {
  const agent = stormAgent(32);
  const skus = Array.from({ length: count }, () => uniqueSku('BULK'));
  const answers = await Promise.all(skus.map((sku) => target.api('POST', '/api/v1/products', {
    admin: true, agent,
    body: { sku, productName: 'N'.repeat(250), initialStock: 5, startTime: isoIn(3_600_000), endTime: isoIn(7_200_000) },
  })));
  agent.destroy();
  for (const a of answers) assert.equal(a.status, 201, a.text);
  return skus;
}

test('a subscriber that does not read lags, is cut off after --events-stall, and the others are served', async () => {
  const target = await startServer({ args: ['--events-stall', '1s'] });
  const slow = slowSubscriber(target, '', 0);
  try {
    await slow.connected();
    const fast = await openStream(target.url);
    const skus = await createWaves(target);
    await waitFor(async () => metricSum(await metrics(target), 'flashsale_event_streams_lagged_total') >= 1, { what: 'a lagging stream' });
    await waitFor(async () => metricSum(await metrics(target), 'flashsale_event_streams_disconnected_total') === 1, { what: 'the cut' });
    await waitFor(async () => metricSum(await metrics(target), 'flashsale_event_streams') === 1, { what: 'one stream left' });
    // the reader that keeps up missed nothing, and still hears what happens
    await fast.next((e) => e.data.data.sku === skus.at(-1));
    for (const sku of skus) assert.equal(eventsOf(fast, sku, 'initial').length, 1);
    const { sku } = await target.createSale();
    await fast.next((e) => e.data.data.sku === sku);
    assertFraming(fast);
    fast.close();
  } finally {
    await slow.stop();
    await target.stop();
  }
});

test('a subscriber that lagged and reads again gets the latest state instead of what it missed', async () => {
  const target = await startServer({ args: ['--events-stall', '60s'] });
  const slow = slowSubscriber(target, '', -1);
  try {
    await slow.connected();
    const fast = await openStream(target.url);
    const skus = await createWaves(target);
    await waitFor(async () => metricSum(await metrics(target), 'flashsale_event_streams_lagged_total') >= 1, { what: 'a lagging stream' });
    // every event is out of the server's hands once a reader that keeps up has seen them all
    await waitFor(() => skus.every((sku) => eventsOf(fast, sku, 'initial').length === 1), { what: 'every sale on the fast stream' });
    fast.close();
    slow.proc.kill('SIGUSR1');
    // it reads everything the server kept, then the catch-up: an initial of every sale again, in
    // sale order, so a sale created now comes after the catch-up or last in it
    const { sku: marker } = await target.createSale();
    await waitFor(() => slow.output.includes(`"sku":"${marker}"`), { what: 'the catch-up' });
    const lines = slow.output.split('\n');
    const ids = lines.filter((l) => l.startsWith('id: ')).map((l) => Number(l.slice(4)));
    ids.forEach((id, i) => assert.equal(id, i + 1, 'ids count up without gaps: dropped events got none'));
    const initials = (sku) => lines.filter((l) => l.includes('"type":"initial"') && l.includes(`"sku":"${sku}"`)).length;
    // a sale told before the lag is told again in the catch-up; one created during the lag only there
    assert.ok(skus.some((sku) => initials(sku) === 2), 'no sale was told twice');
    for (const sku of skus) assert.ok(initials(sku) >= 1 && initials(sku) <= 2, `${sku}: ${initials(sku)} initials`);
    assert.ok(skus.some((sku) => initials(sku) === 1), 'every event was kept: the stream never lagged');
    assert.equal(metricSum(await metrics(target), 'flashsale_event_streams_disconnected_total'), 0);
  } finally {
    await slow.stop();
    await target.stop();
  }
});

test('distributed: a purchase and a new sale on one instance reach a subscriber of another', { skip: MODE_NAME !== 'distributed' }, async () => {
  const port = await freePort();
  const peer = spawn(BIN, ['serve', '--listen', '127.0.0.1', '--port', String(port), '--admin-key', server.adminKey,
    '--threads', '2', '--data-dir', path.join(server.dataDir, 'peer'), ...server.storeArgs.filter((a) => a !== '--with-worker')],
  { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  peer.stderr.on('data', (d) => (output += d));
  const peerUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await httpRequest(`${peerUrl}/health`, { timeoutMs: 1000 })).status === 200, { what: `the peer\n${output}` });
    const { sku } = await server.createSale({ initialStock: 50 });
    const s = await openStream(peerUrl, `?sku=${sku}`);
    const all = await openStream(peerUrl);
    assert.equal((await s.next()).data.data.stock, 50);
    assertOk(await server.purchase(sku, uniqueUser()));
    assert.deepEqual((await s.next((e) => e.data.type === 'stock-update')).data, { type: 'stock-update', data: { sku, stock: 49 } });
    const { sku: fresh } = await server.createSale();
    await all.next((e) => e.data.data.sku === fresh && e.data.type === 'initial');
    await server.deleteSale(fresh);
    await all.next((e) => e.data.data.sku === fresh && e.data.type === 'sale-deleted');
    s.close();
    all.close();
  } finally {
    peer.kill('SIGTERM');
    await new Promise((resolve) => peer.once('exit', resolve));
  }
});
