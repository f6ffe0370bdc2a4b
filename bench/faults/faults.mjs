// Reproduces the transport's fault cases against a running server and prints what happened
// (issue 8, items 5-8). Each bench/faults/*.sh starts the server the way its case needs and calls
// one of these. Numbers from a busy machine mean little: run them on a quiet one.
//
//   node faults.mjs hold PORT PID COUNT          hold COUNT connections; the server's CPU over 5 s; GET /health
//   node faults.mjs storm PORT PID               keep-alive purchase storm, SIGTERM after 2 s; answers, resets, exit
//   node faults.mjs rapid-reset PORT SECONDS     HTTP/2 streams opened and reset; a normal request's latency meanwhile
//   node faults.mjs framing PORT                 ambiguous framing; the status line of each answer
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';

const [command, portText, third, fourth] = process.argv.slice(2);
const port = Number(portText);

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function timedGet(path = '/health', timeoutMs = 30_000) {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.get({ port, host: '127.0.0.1', path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function hold(pid, count) {
  const sockets = [];
  for (let i = 0; i < count; i++) sockets.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  await sleep(2000);
  const before = cpuSeconds(pid);
  await sleep(5000);
  const cpu = cpuSeconds(pid) - before;
  const health = await timedGet();
  const closed = sockets.filter((s) => s.destroyed || s.readableEnded).length;
  console.log(`held=${count} closed_by_server=${closed} server_cpu_s_in_5s=${cpu.toFixed(2)} health=${JSON.stringify(health)}`);
  for (const s of sockets) s.destroy();
}

async function storm(pid) {
  const sku = 'DEMO-001';
  const counts = { answered: 0, close_answers: 0, unanswered: 0, resets: 0, ended: 0 };
  let n = 0;
  const one = () =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let data = '';
      let outstanding = false;
      const send = () => {
        const body = JSON.stringify({ sku });
        socket.write(`POST /api/v1/purchases HTTP/1.1\r\nHost: x\r\nX-User-Id: storm-${process.pid}-${n++}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
        outstanding = true;
      };
      socket.on('connect', send);
      socket.on('data', (chunk) => {
        data += chunk;
        for (;;) {
          const end = data.indexOf('\r\n\r\n');
          if (end < 0) return;
          const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? 0);
          if (data.length < end + 4 + length) return;
          const close = /\r\nconnection: close/i.test(data.slice(0, end));
          data = data.slice(end + 4 + length);
          counts.answered += 1;
          outstanding = false;
          if (close) counts.close_answers += 1;
          else send();
        }
      });
      socket.on('end', () => {
        counts.ended += 1;
        if (outstanding) counts.unanswered += 1;
      });
      socket.on('error', (err) => {
        if (err.code === 'ECONNRESET') counts.resets += 1;
      });
      socket.on('close', resolve);
    });
  const all = Promise.all(Array.from({ length: 64 }, one));
  await sleep(2000);
  process.kill(pid, 'SIGTERM');
  await all;
  console.log(Object.entries(counts).map(([k, v]) => `${k}=${v}`).join(' '));
}

async function rapidReset(seconds) {
  const latencies = [];
  let resets = 0;
  let refused = null;
  const flood = (session) =>
    new Promise((resolve) => {
      const until = Date.now() + seconds * 1000;
      const loop = () => {
        if (Date.now() > until || session.destroyed) return resolve();
        for (let i = 0; i < 100; i++) {
          try {
            const stream = session.request({ ':path': '/health' });
            stream.on('error', () => {});
            stream.close(http2.constants.NGHTTP2_CANCEL);
            resets += 1;
          } catch {
            return resolve();
          }
        }
        setImmediate(loop);
      };
      loop();
    });
  const sessions = [0, 1].map(() => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', (err) => (refused = err.code ?? err.message));
    return session;
  });
  const floods = Promise.all(sessions.map(flood));
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    latencies.push((await timedGet()).ms);
    await sleep(200);
  }
  await floods;
  for (const s of sessions) s.destroy();
  latencies.sort((a, b) => a - b);
  console.log(`streams_reset=${resets} http2=${refused ? `refused (${refused})` : 'accepted'} health_p50_ms=${latencies[latencies.length >> 1]?.toFixed(1)} health_max_ms=${latencies.at(-1)?.toFixed(1)}`);
}

async function framing() {
  const cases = {
    'two Content-Length': 'POST /api/v1/purchases HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
    'TE + CL': 'POST /api/v1/purchases HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n',
    'NUL in query': 'GET /api/v1/sales?sku=DEMO-001%00x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  };
  for (const [name, bytes] of Object.entries(cases)) {
    const answer = await new Promise((resolve) => {
      let data = '';
      const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
      socket.on('data', (chunk) => (data += chunk));
      socket.on('error', (err) => resolve(`error ${err.code}`));
      socket.on('close', () => resolve(data));
      socket.setTimeout(5000, () => socket.destroy());
    });
    const statuses = [...answer.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((m) => m[1]);
    console.log(`${name}: answers=[${statuses.join(',')}]`);
  }
}

if (command === 'hold') await hold(Number(third), Number(fourth));
else if (command === 'storm') await storm(Number(third));
else if (command === 'rapid-reset') await rapidReset(Number(third));
else if (command === 'framing') await framing();
else {
  console.error('usage: node faults.mjs hold|storm|rapid-reset|framing PORT ...');
  process.exit(2);
}
