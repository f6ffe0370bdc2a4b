// Connection bounds protect honest buyers (issue 11, item 5): a client holding a thousand and more
// connections open, some silent and some sending their heads a byte at a time (slowloris), does
// not keep an honest buyer from buying — not even when they take every descriptor the server may
// use (ulimit -n 1024). No timing is asserted: the purchase is answered, that is all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, httpRequest, uniqueUser } from './lib/harness.mjs';
import { RawConnection } from './lib/raw.mjs';

const SILENT = 600;
const TRICKLING = 900;

test('a purchase is answered while 1,500 half-open connections are held', async () => {
  const server = await startServer({ nofileLimit: 1024 });
  const { sku } = await server.createSale({ initialStock: 10 });
  const conns = [];
  let trickle;
  try {
    for (let i = 0; i < SILENT + TRICKLING; i++) {
      const conn = new RawConnection(server.port);
      conn.connected.catch(() => {});
      conns.push(conn);
    }
    await Promise.allSettled(conns.map((c) => c.connected));
    const trickling = conns.slice(SILENT);
    await Promise.allSettled(trickling.map((c) => c.write('POST /api/v1/purchases HTTP/1.1\r\nHost: x\r\n')));
    // one more header byte on every trickling connection, over and over, never the end of the head
    trickle = setInterval(() => {
      for (const conn of trickling) if (!conn.finished) conn.socket.write('X');
    }, 300);

    const buyer = uniqueUser('honest');
    const res = await httpRequest(`${server.url}/api/v1/purchases`, {
      method: 'POST',
      headers: { 'X-User-Id': buyer },
      body: { sku },
      timeoutMs: 60_000,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.success, true, res.text);
    assert.equal(res.json.data.userId, buyer);
  } finally {
    clearInterval(trickle);
    for (const conn of conns) conn.destroy();
    await server.stop();
  }
});
