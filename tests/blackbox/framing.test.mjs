// Ambiguous framing and malformed requests are refused (issue 8, item 8), and each bound of a
// request has its own answer (issue 11, item 5): raw bytes on a socket, so that what the server
// answers and whether it closes the connection are seen exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueUser } from './lib/harness.mjs';
import { exchange, RawConnection, readByServer } from './lib/raw.mjs';

let server;
let sku;
before(async () => {
  server = await startServer({ args: ['--header-timeout', '1s', '--body-timeout', '1s', '--idle-timeout', '2s'] });
  sku = (await server.createSale({ initialStock: 1000 })).sku;
});
after(async () => {
  await server?.stop();
});

const purchaseBody = () => JSON.stringify({ sku });
const health = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';

// A request that buys for user, with extra head lines; body as given (default: the purchase JSON).
function purchase(user, lines = [], body = purchaseBody()) {
  return `POST /api/v1/purchases HTTP/1.1\r\nHost: x\r\nX-User-Id: ${user}\r\nContent-Type: application/json\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n${body}`;
}

async function purchasesOf(user) {
  const res = await server.api('GET', `/api/v1/purchases?sku=${sku}`, { userId: user });
  return res.status === 200 ? 1 : 0;
}

function assertRefused(result, status, what) {
  assert.equal(result.responses.length, 1, `${what}: exactly one answer, got ${result.responses.map((r) => r.status)}; rest ${JSON.stringify(result.rest)}`);
  const [response] = result.responses;
  assert.equal(response.status, status, `${what}: ${response.raw}`);
  assert.equal(response.headers.connection, 'close', `${what}: ${response.raw}`);
  assert.equal(response.json?.success, false, `${what}: ${response.body}`);
  assert.equal(result.closed, 'end', `${what}: the connection must be closed cleanly`);
}

test('two different Content-Length values: 400, the connection closed, nothing after it runs', async () => {
  const user = uniqueUser();
  const body = purchaseBody();
  const result = await exchange(server.port, purchase(user, [`Content-Length: ${body.length}`, `Content-Length: ${body.length + 5}`], body) + health);
  assertRefused(result, 400, 'conflicting Content-Length');
  assert.equal(await purchasesOf(user), 0);
});

test('the same Content-Length twice is one length', async () => {
  const user = uniqueUser();
  const body = purchaseBody();
  const result = await exchange(server.port, purchase(user, [`Content-Length: ${body.length}`, `Content-Length: ${body.length}`, 'Connection: close'], body));
  assert.equal(result.responses.length, 1);
  assert.equal(result.responses[0].status, 200, result.responses[0].raw);
  assert.equal(result.responses[0].json.success, true);
});

test('Transfer-Encoding with Content-Length: 400 and closed, the smuggled request never runs', async () => {
  const victim = uniqueUser('smuggled');
  const smuggled = purchase(victim, [`Content-Length: ${purchaseBody().length}`]);
  // A front end that trusts Content-Length sees one request; one that trusts chunked sees two.
  const chunked = `0\r\n\r\n${smuggled}`;
  for (const order of [
    [`Content-Length: ${chunked.length}`, 'Transfer-Encoding: chunked'],
    ['Transfer-Encoding: chunked', `Content-Length: ${chunked.length}`],
  ]) {
    const result = await exchange(server.port, purchase(uniqueUser(), order, chunked));
    assertRefused(result, 400, order.join(' + '));
  }
  assert.equal(await purchasesOf(victim), 0, 'the smuggled purchase must not have run');
});

test('Transfer-Encoding other than chunked: 501; chunked not last or twice: 400; in HTTP/1.0: 400', async () => {
  assertRefused(await exchange(server.port, purchase(uniqueUser(), ['Transfer-Encoding: gzip'], '')), 501, 'gzip');
  assertRefused(await exchange(server.port, purchase(uniqueUser(), ['Transfer-Encoding: chunked, chunked'], '')), 400, 'chunked twice');
  assertRefused(
    await exchange(server.port, `POST /api/v1/purchases HTTP/1.0\r\nX-User-Id: u\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`),
    400,
    'HTTP/1.0 chunked',
  );
});

test('a chunked body is read, and pipelined requests are answered in order', async () => {
  const user = uniqueUser();
  const body = purchaseBody();
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const result = await exchange(server.port, purchase(user, ['Transfer-Encoding: chunked'], chunked) + health + 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.deepEqual(result.responses.map((r) => r.status), [200, 200, 200]);
  assert.equal(result.responses[0].json.success, true, result.responses[0].body);
  assert.equal(result.responses[0].headers.connection, 'keep-alive');
  assert.equal(result.responses[2].headers.connection, 'close');
  assert.equal(result.closed, 'end');
});

test('broken chunked encoding: 400 and closed', async () => {
  assertRefused(await exchange(server.port, purchase(uniqueUser(), ['Transfer-Encoding: chunked'], 'zz\r\nhello\r\n0\r\n\r\n')), 400, 'bad chunk size');
});

test('malformed heads: bare LF, space before the colon, folded lines, no Host, two Hosts: 400 and closed', async () => {
  const cases = {
    'bare LF': 'GET /health HTTP/1.1\nHost: x\n\n',
    'space before colon': 'GET /health HTTP/1.1\r\nHost : x\r\n\r\n',
    'folded line': 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n',
    'no Host': 'GET /health HTTP/1.1\r\n\r\n',
    'two Hosts': 'GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n',
    'control byte': 'GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n',
  };
  for (const [what, bytes] of Object.entries(cases)) assertRefused(await exchange(server.port, bytes), 400, what);
});

test('HTTP/2 and unknown versions: 505', async () => {
  assertRefused(await exchange(server.port, 'GET /health HTTP/3.0\r\nHost: x\r\n\r\n'), 505, 'HTTP/3.0');
});

test('a query value or a path parameter with a NUL byte is a 400, not a shorter value', async () => {
  const query = await server.api('GET', `/api/v1/sales?sku=${sku}%00x`);
  assert.equal(query.status, 400, query.text);
  assert.equal(query.json.error.code, 'VALIDATION_ERROR');
  const mine = await server.api('GET', `/api/v1/purchases?sku=${sku}%00x`, { userId: uniqueUser() });
  assert.equal(mine.status, 400, mine.text);
  const path = await server.api('GET', `/api/v1/products/${sku}%00x`, { admin: true });
  assert.equal(path.status, 400, path.text);
  assert.equal(path.json.error.code, 'VALIDATION_ERROR');
});

test('a body over --max-body-bytes: 413 from the Content-Length alone, and for a chunked one', async () => {
  // Only the head is sent: the answer must not wait for a body it will refuse.
  assertRefused(await exchange(server.port, purchase(uniqueUser(), ['Content-Length: 16385'], '')), 413, 'Content-Length');
  const chunk = 'x'.repeat(4096);
  const chunked = `${(4096).toString(16)}\r\n${chunk}\r\n`.repeat(5) + '0\r\n\r\n';
  assertRefused(await exchange(server.port, purchase(uniqueUser(), ['Transfer-Encoding: chunked'], chunked)), 413, 'chunked');
  const json = (await exchange(server.port, purchase(uniqueUser(), ['Content-Length: 20000'], ''))).responses[0].json;
  assert.equal(json.error.code, 'PAYLOAD_TOO_LARGE');
});

test('a 413 while the client is still sending its body arrives, without a reset', async () => {
  // The server answers as soon as it sees the length and closes; the client keeps writing.
  const conn = new RawConnection(server.port);
  await conn.connected;
  await conn.write(purchase(uniqueUser(), ['Content-Length: 200000'], ''));
  for (let i = 0; i < 20 && !conn.finished; i++) {
    conn.socket.write('y'.repeat(10_000));
    await conn.changed(10);
  }
  const response = await conn.readResponse();
  assert.equal(response?.status, 413);
  assert.equal(await conn.waitClosed(), 'end');
  conn.destroy();
});

test('a head over --max-header-bytes: 431; a request line over it: 414; more than --max-headers fields: 431', async () => {
  const big = `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`;
  const result = await exchange(server.port, big);
  assertRefused(result, 431, 'large head');
  assert.equal(result.responses[0].json.error.code, 'HEADERS_TOO_LARGE');
  assertRefused(await exchange(server.port, `GET /${'a'.repeat(17_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 414, 'long URI');
  const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v`);
  assertRefused(await exchange(server.port, `GET /health HTTP/1.1\r\nHost: x\r\n${many.map((l) => `${l}\r\n`).join('')}\r\n`), 431, '101 fields');
  const fine = Array.from({ length: 98 }, (_, i) => `X-H${i}: v`);
  const ok = await exchange(server.port, `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${fine.map((l) => `${l}\r\n`).join('')}\r\n`);
  assert.equal(ok.responses[0]?.status, 200);
});

test('a head that does not arrive within --header-timeout: 408, closed', async () => {
  const conn = new RawConnection(server.port);
  await conn.connected;
  await conn.write('GET /health HTTP/1.1\r\nHost: x\r\n');
  const response = await conn.readResponse();
  assert.equal(response?.status, 408, response?.raw);
  assert.equal(response.json.error.code, 'REQUEST_TIMEOUT');
  assert.equal(await conn.waitClosed(), 'end');
  conn.destroy();
});

test('a body that does not arrive within --body-timeout: 408, closed, and nothing bought', async () => {
  const user = uniqueUser();
  const conn = new RawConnection(server.port);
  await conn.connected;
  await conn.write(purchase(user, ['Content-Length: 100'], '{"sku"'));
  const response = await conn.readResponse();
  assert.equal(response?.status, 408, response?.raw);
  assert.equal(await conn.waitClosed(), 'end');
  conn.destroy();
  assert.equal(await purchasesOf(user), 0);
});

test('an idle connection is closed after --idle-timeout without an answer', async () => {
  const conn = new RawConnection(server.port);
  await conn.connected;
  assert.equal(await conn.waitClosed(), 'end');
  assert.equal(conn.data.length, 0, 'nothing is sent to a client that asked nothing');
  conn.destroy();
});

test('Expect: 100-continue gets 100 Continue before the body is sent; another expectation gets 417', async () => {
  const body = purchaseBody();
  const conn = new RawConnection(server.port);
  await conn.connected;
  await conn.write(purchase(uniqueUser(), [`Content-Length: ${body.length}`, 'Expect: 100-continue'], ''));
  while (!conn.data.toString('latin1').includes('\r\n\r\n') && !conn.finished) await conn.changed(20_000);
  assert.match(conn.data.toString('latin1'), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  conn.data = conn.data.subarray('HTTP/1.1 100 Continue\r\n\r\n'.length);
  await conn.write(body);
  const response = await conn.readResponse();
  assert.equal(response.status, 200, response.raw);
  assert.equal(response.json.success, true);
  conn.destroy();
  assertRefused(await exchange(server.port, purchase(uniqueUser(), [`Content-Length: ${body.length}`, 'Expect: magic'], body)), 417, 'Expect: magic');
});

test('bodies arriving interleaved on several connections each keep their own request', async () => {
  const body = purchaseBody();
  const conns = [];
  for (let i = 0; i < 4; i++) {
    const conn = new RawConnection(server.port);
    await conn.connected;
    conn.user = uniqueUser('interleaved');
    await conn.write(purchase(conn.user, [`Content-Length: ${body.length}`], body.slice(0, 3)));
    conns.push(conn);
  }
  // every head is read before any body completes, the last connection's first
  await readByServer(conns);
  for (const conn of conns.reverse()) await conn.write(body.slice(3));
  for (const conn of conns) {
    const response = await conn.readResponse();
    assert.equal(response.json.success, true, response.body);
    assert.equal(response.json.data.userId, conn.user);
    conn.destroy();
  }
});
