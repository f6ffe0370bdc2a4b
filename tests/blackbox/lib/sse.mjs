// A raw-socket client of GET /api/v1/sales/events, so that the tests see the stream byte for byte:
// the status line and headers as sent, the body de-chunked (or read to the close when the server
// sends no length), then split into the blocks of the event-stream format.
//
// openStream(baseUrl, query, { headers }) resolves once the head is in, with:
//   status, headers (lower-case names), body (the de-chunked text so far),
//   events: [{ id, data, raw, at }] — data parsed from JSON, at = Date.now() on arrival,
//   comments: [text], ended (the server closed), json (the body parsed when it is not a stream),
//   next(pred, { from, timeoutMs }) -> the first event from index `from` matching pred,
//   nextComment(timeoutMs), waitEnd(timeoutMs), close().
// Each block must be exactly "id: N\ndata: ONE-LINE\n\n", ": COMMENT\n\n", or, first,
// "retry: N\n\n"; anything else fails the test that reads the stream.

import net from 'node:net';
import assert from 'node:assert/strict';

const HEAD_TIMEOUT_MS = 10_000;

export function openStream(baseUrl, query = '', { headers = {}, path = '/api/v1/sales/events' } = {}) {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname);
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`GET ${path}${query} HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n${extra}\r\n`);
    const stream = {
      socket,
      status: 0,
      headers: {},
      body: '',
      blocks: 0,
      events: [],
      comments: [],
      retry: null,
      ended: false,
      error: null,
      waiters: new Set(),
    };
    let head = Buffer.alloc(0);
    let headDone = false;
    let chunked = false;
    let pending = Buffer.alloc(0); // bytes of the body not yet de-chunked
    let text = ''; // de-chunked text not yet split into blocks

    const wake = () => {
      for (const waiter of stream.waiters) waiter();
    };
    const fail = (err) => {
      stream.error = err;
      socket.destroy();
      wake();
    };
    const takeBlocks = () => {
      let at;
      while ((at = text.indexOf('\n\n')) !== -1) {
        const block = text.slice(0, at);
        text = text.slice(at + 2);
        const index = stream.blocks++;
        let m;
        if (index === 0 && (m = /^retry: (\d+)$/.exec(block))) {
          stream.retry = Number(m[1]);
        } else if ((m = /^: (.*)$/.exec(block))) {
          stream.comments.push(m[1]);
        } else if ((m = /^id: (\d+)\ndata: (.*)$/.exec(block))) {
          let data;
          try {
            data = JSON.parse(m[2]);
          } catch {
            fail(new Error(`event data is not JSON: ${JSON.stringify(m[2])}`));
            return;
          }
          stream.events.push({ id: Number(m[1]), data, raw: `${block}\n\n`, at: Date.now() });
        } else {
          fail(new Error(`not an event-stream block of the contract: ${JSON.stringify(block)}`));
          return;
        }
      }
    };
    const takeBody = (bytes) => {
      if (!chunked) {
        const piece = bytes.toString('utf8');
        stream.body += piece;
        text += piece;
        return;
      }
      pending = Buffer.concat([pending, bytes]);
      for (;;) {
        const line = pending.indexOf('\r\n');
        if (line === -1) return;
        const size = parseInt(pending.subarray(0, line).toString('latin1'), 16);
        if (Number.isNaN(size)) {
          fail(new Error(`bad chunk size line ${JSON.stringify(pending.subarray(0, line).toString('latin1'))}`));
          return;
        }
        if (size === 0) {
          stream.ended = true;
          return;
        }
        if (pending.length < line + 2 + size + 2) return;
        const piece = pending.subarray(line + 2, line + 2 + size).toString('utf8');
        pending = pending.subarray(line + 2 + size + 2);
        stream.body += piece;
        text += piece;
      }
    };
    const timer = setTimeout(() => fail(new Error(`no answer head in ${HEAD_TIMEOUT_MS} ms`)), HEAD_TIMEOUT_MS);

    socket.on('data', (bytes) => {
      if (!headDone) {
        head = Buffer.concat([head, bytes]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        headDone = true;
        clearTimeout(timer);
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        stream.status = Number(lines[0].split(' ')[1]);
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          stream.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        chunked = /chunked/i.test(stream.headers['transfer-encoding'] ?? '');
        const rest = head.subarray(end + 4);
        if (rest.length > 0) takeBody(rest);
        if (stream.status === 200) takeBlocks();
        resolve(stream);
      } else {
        takeBody(bytes);
        if (stream.status === 200) takeBlocks();
      }
      wake();
    });
    socket.on('end', () => {
      stream.ended = true;
      wake();
    });
    socket.on('close', () => {
      stream.ended = true;
      wake();
    });
    socket.on('error', (err) => {
      if (!headDone) {
        clearTimeout(timer);
        reject(err);
      }
      stream.ended = true;
      wake();
    });

    const until = (ready, timeoutMs, what) => new Promise((res, rej) => {
      const check = () => {
        if (stream.error) {
          done();
          rej(stream.error);
          return;
        }
        const value = ready();
        if (value !== undefined) {
          done();
          res(value);
        } else if (stream.ended) {
          done();
          rej(new Error(`the stream ended while waiting for ${what}; body so far:\n${stream.body}`));
        }
      };
      const t = setTimeout(() => {
        done();
        rej(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; body so far:\n${stream.body}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        stream.waiters.delete(check);
      };
      stream.waiters.add(check);
      check();
    });

    stream.next = (pred = () => true, { from = 0, timeoutMs = 10_000, what = 'an event' } = {}) =>
      until(() => stream.events.slice(from).find(pred), timeoutMs, what);
    stream.nextComment = (timeoutMs = 10_000) => until(() => stream.comments[0], timeoutMs, 'a comment');
    stream.waitEnd = (timeoutMs = 10_000) => until(() => (stream.ended ? true : undefined), timeoutMs, 'the end');
    stream.close = () => {
      socket.destroy();
    };
    stream.json = () => JSON.parse(stream.body);
    // A whole answer that is not a stream (a 503, say): by its Content-Length, or to the close.
    stream.waitBody = (timeoutMs = 10_000) => until(() => {
      const length = Number(stream.headers['content-length'] ?? NaN);
      return (Buffer.byteLength(stream.body) >= length || stream.ended) ? stream.body : undefined;
    }, timeoutMs, 'the body');
  });
}

// The events of one sku, of one type (or any).
export function eventsOf(stream, sku, type) {
  return stream.events.filter((e) => e.data.data.sku === sku && (type === undefined || e.data.type === type));
}

// Asserts that the body so far is exactly the contract's framing.
export function assertFraming(stream) {
  assert.match(stream.body, /^retry: 2000\n\n((id: \d+\ndata: [^\n]+\n\n)|(: ping\n\n))*$/);
  assert.doesNotMatch(stream.body, /^event:/m);
}
