// How connections are served: keep-alive, and idle connections closed after the timeout (10 s).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startServer, httpRequest } from './lib/harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

test('keep-alive: several requests are served on one connection', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ports = [];
  try {
    for (let i = 0; i < 5; i++) {
      const res = await new Promise((resolve, reject) => {
        http.get(`${server.url}/health`, { agent }, (r) => {
          ports.push(r.socket.localPort);
          r.resume();
          r.on('end', () => resolve(r));
        }).on('error', reject);
      });
      assert.equal(res.statusCode, 200);
    }
  } finally {
    agent.destroy();
  }
  assert.equal(new Set(ports).size, 1, `requests used ${new Set(ports).size} connections`);
});

test('an idle connection is closed by the server after its timeout, and the server keeps serving', async () => {
  const port = Number(new URL(server.url).port);
  const started = Date.now();
  const closedAfterMs = await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', reject);
    socket.on('close', () => resolve(Date.now() - started));
    socket.resume();
    // A client that never sends anything: the server must not keep it forever.
    setTimeout(() => reject(new Error('the idle connection was still open after 20 s')), 20_000).unref();
  });
  assert.ok(closedAfterMs >= 5_000, `closed after ${closedAfterMs} ms: too early for an idle timeout`);
  assert.equal((await httpRequest(`${server.url}/health`)).status, 200);
});
