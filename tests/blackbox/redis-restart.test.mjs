// Distributed mode only: after a restart of Redis — a kill -9 with its append-only file reloaded,
// and a clean stop and start — the first request of every kind succeeds on every instance and on
// every loop thread: create, update, delete, purchase, status and listing.
//
// Each kind gets a restart of its own, so that its requests are the first on every connection the
// servers make to the new Redis process (whose script cache is empty). Two instances run two loop
// threads each; each instance gets CONNECTIONS concurrent requests, every one on a new connection,
// which the kernel spreads over the loops' SO_REUSEPORT listeners by a hash of the connection: all
// landing on one loop has the odds 2^-(CONNECTIONS-1). The requests are sent as soon as Redis
// answers PING again, without waiting for the servers to reconnect.
//
// Reproduce one fault by hand: scripts/cluster-demo.sh start, then kill -9 its redis-server (or
// redis-cli -p PORT shutdown), start it again, and send the request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODE_NAME, isoIn, storm, uniqueSku, uniqueUser } from './lib/harness.mjs';
import { outcome, startInstance, withStore } from './lib/cluster.mjs';

const skip = MODE_NAME !== 'distributed' && 'distributed mode only (FLASHSALE_MODE=distributed)';

const INSTANCES = 2;
const THREADS = 2;
const CONNECTIONS = 16;

function productBody(startIn = -60_000) {
  return { sku: uniqueSku('RR'), productName: 'Redis restart', initialStock: 1000, startTime: isoIn(startIn), endTime: isoIn(startIn + 3_600_000) };
}

async function createProduct(server, body) {
  const res = await server.api('POST', '/api/v1/products', { admin: true, body });
  assert.equal(res.status, 201, res.text);
  return res.json.data;
}

// Per kind: what to set up before the restart (on the first instance), the request (the i-th of
// an instance) and what its answer must be.
const kinds = {
  create: {
    async prepare() {
      return null;
    },
    request: (server) => server.api('POST', '/api/v1/products', { admin: true, body: productBody(), fresh: true }),
    expect: (res) => assert.equal(res.status, 201, res.text),
  },
  update: {
    // One upcoming sale per request: each update is a real change.
    prepare: (server) => Promise.all(Array.from({ length: INSTANCES * CONNECTIONS }, () => createProduct(server, productBody(3_600_000)))),
    request: (server, sales, i) => server.api('PUT', `/api/v1/products/${sales[i].sku}`, { admin: true, body: { productName: `renamed ${i}` }, fresh: true }),
    expect: (res, i) => {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.data.productName, `renamed ${i}`);
    },
  },
  delete: {
    prepare: (server) => Promise.all(Array.from({ length: INSTANCES * CONNECTIONS }, () => createProduct(server, productBody()))),
    request: (server, sales, i) => server.api('DELETE', `/api/v1/products/${sales[i].sku}`, { admin: true, fresh: true }),
    expect: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.success, true, res.text);
    },
  },
  purchase: {
    prepare: (server) => createProduct(server, productBody()),
    request: (server, sale) => server.purchase(sale.sku, uniqueUser('rr'), { fresh: true }),
    expect: (res) => assert.equal(outcome(res), 'SUCCESS', res.text),
  },
  status: {
    prepare: (server) => createProduct(server, productBody()),
    request: (server, sale) => server.api('GET', `/api/v1/sales?sku=${sale.sku}`, { fresh: true }),
    expect: (res, i, sale) => {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.data.sku, sale.sku);
    },
  },
  listing: {
    async prepare(server) {
      const sale = await createProduct(server, productBody());
      assert.equal(outcome(await server.purchase(sale.sku, uniqueUser('rr'))), 'SUCCESS');
      return sale;
    },
    request: (server, sale) => server.api('GET', `/api/v1/products/${sale.sku}/purchases`, { admin: true, fresh: true }),
    expect: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.data.length, 1, res.text);
    },
  },
};

for (const [how, stop] of [['kill -9, then a restart that reloads the append-only file', 'kill'], ['a clean stop and start', 'stop']]) {
  test(`after ${how} of Redis, the first create, update, delete, purchase, status and listing succeed on every instance and loop`, { skip }, async (t) => {
    await withStore({}, async (store) => {
      const servers = await Promise.all(Array.from({ length: INSTANCES }, () => startInstance(store, { threads: THREADS })));
      for (const [kind, { prepare, request, expect }] of Object.entries(kinds)) {
        await t.test(kind, async () => {
          const prepared = await prepare(servers[0]);
          await store.redisService(stop);
          await store.redisService('start');
          const jobs = servers.flatMap((server, s) => Array.from({ length: CONNECTIONS }, (_, c) => [server, s * CONNECTIONS + c]));
          const results = await storm(jobs, ([server, i]) => request(server, prepared, i));
          const failed = results.map((res, i) => [i, res]).filter(([, res]) => res.error || res.status >= 300);
          assert.deepEqual(failed.map(([i, res]) => `request ${i}: ${outcome(res)}`), [], `first ${kind} requests after the restart failed`);
          results.forEach((res, i) => expect(res, i, prepared));
        });
      }
      await Promise.all(servers.map((server) => server.stop()));
    });
  });
}
