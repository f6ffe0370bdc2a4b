// HTTP/2 is off unless asked for (issue 8, item 7): h2o 2.2.5 has no defence against the HTTP/2
// rapid-reset flood, so by default neither an h2c upgrade nor the prior-knowledge preface gets
// HTTP/2; with --http2 both do.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startServer } from './lib/harness.mjs';
import { exchange, RawConnection } from './lib/raw.mjs';

const servers = [];
after(async () => {
  for (const server of servers) await server.stop();
});

async function server(args = []) {
  const started = await startServer({ args });
  servers.push(started);
  return started;
}

const upgrade =
  'GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n';
const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const settingsFrame = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

// The first bytes the server sends after the client preface, or what it sent before closing.
async function afterPreface(port) {
  const conn = new RawConnection(port);
  await conn.connected;
  await conn.write(Buffer.concat([Buffer.from(preface), settingsFrame]));
  while (conn.data.length < 9 && !conn.finished) await conn.changed(10_000);
  conn.destroy();
  return conn.data;
}

// A GET through node's HTTP/2 client (prior knowledge on http://): status, or the error.
function http2Get(url) {
  return new Promise((resolve) => {
    const session = http2.connect(url);
    session.on('error', (err) => resolve({ error: err.code ?? err.message }));
    const req = session.request({ ':path': '/health' });
    req.on('response', (headers) => {
      req.resume();
      req.on('end', () => {
        session.close();
        resolve({ status: headers[':status'] });
      });
    });
    req.on('error', (err) => {
      session.destroy();
      resolve({ error: err.code ?? err.message });
    });
    req.setTimeout(10_000, () => {
      session.destroy();
      resolve({ error: 'timeout' });
    });
    req.end();
  });
}

test('by default an h2c upgrade is ignored: the request is answered in HTTP/1.1, no 101', async () => {
  const { port } = await server();
  const result = await exchange(port, upgrade.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
  assert.equal(result.responses.length, 1, result.rest);
  assert.equal(result.responses[0].status, 200, result.responses[0].raw);
  assert.match(result.responses[0].statusLine, /^HTTP\/1\.1 200/);
});

test('by default the prior-knowledge preface gets an HTTP/1.1 505 and the connection closed', async () => {
  const { port, url } = await server();
  const reply = (await afterPreface(port)).toString('latin1');
  assert.match(reply, /^HTTP\/1\.1 505 /);
  const viaClient = await http2Get(url);
  assert.ok(viaClient.error, `an HTTP/2 client must not get an answer: ${JSON.stringify(viaClient)}`);
});

test('with --http2 an h2c upgrade gets 101 Switching Protocols', async () => {
  const { port } = await server(['--http2']);
  const conn = new RawConnection(port);
  await conn.connected;
  await conn.write(upgrade);
  while (!conn.data.toString('latin1').includes('\r\n\r\n') && !conn.finished) await conn.changed(10_000);
  conn.destroy();
  assert.match(conn.data.toString('latin1'), /^HTTP\/1\.1 101 /);
});

test('with --http2 the prior-knowledge preface gets HTTP/2, and an HTTP/2 client is served', async () => {
  const { port, url } = await server(['--http2']);
  const reply = await afterPreface(port);
  assert.equal(reply[3], 4, `the server's first frame must be SETTINGS: ${reply.toString('hex')}`);
  assert.deepEqual(await http2Get(url), { status: 200 });
  // HTTP/1.1 is still served as before
  assert.equal((await exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).responses[0].status, 200);
});
