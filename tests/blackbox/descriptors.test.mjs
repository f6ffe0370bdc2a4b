// Running out of file descriptors does not spin (issue 8, item 5). Under `ulimit -n 1024`, 1,100
// connections held open would take every descriptor; the server must neither burn its cores
// (measured as its own CPU time over a window, from /proc) nor stop answering new clients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { startServer, httpRequest, waitFor } from './lib/harness.mjs';
import { RawConnection, cpuSeconds, readAndOpenOnServer } from './lib/raw.mjs';

const HELD = 1100;
const WINDOW_MS = 2000;
// Two spinning loop threads use about 2 s of CPU per second; an idle server about none.
const MAX_CPU_IN_WINDOW_S = 0.5;

async function hold(port, count, firstBytes) {
  const conns = [];
  for (let i = 0; i < count; i++) {
    const conn = new RawConnection(port);
    conn.connected.catch(() => {});
    if (firstBytes) conn.connected.then(() => conn.write(firstBytes)).catch(() => {});
    conns.push(conn);
  }
  await Promise.allSettled(conns.map((c) => c.connected));
  return conns;
}

async function cpuOverWindow(pid) {
  const before = await cpuSeconds(pid);
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  return (await cpuSeconds(pid)) - before;
}

async function openDescriptors(pid) {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

function maxConnections(stderr) {
  const match = /file descriptor limit (\d+), at most (\d+) connections/.exec(stderr);
  assert.ok(match, `the start-up line names the limits: ${stderr}`);
  return { nofile: Number(match[1]), max: Number(match[2]) };
}

test('the soft descriptor limit is raised to the hard one and logged', async () => {
  const server = await startServer({ nofileLimit: { soft: 512, hard: 4096 } });
  try {
    const { nofile, max } = maxConnections(server.stderr);
    assert.equal(nofile, 4096);
    assert.ok(max < nofile && max > nofile / 2, `default max connections ${max} leaves room below ${nofile}`);
  } finally {
    await server.stop();
  }
});

test('1,100 idle connections under ulimit -n 1024: no spinning, and /health still answers', async () => {
  const server = await startServer({ nofileLimit: 1024 });
  const conns = await hold(server.port, HELD);
  try {
    const { nofile, max } = maxConnections(server.stderr);
    assert.equal(nofile, 1024);
    // at the limit the longest-idle connections make room for the ones waiting in the backlog
    await waitFor(() => conns.filter((c) => c.finished).length >= HELD - max, { timeoutMs: 20_000, what: 'idle connections closed to make room' });
    const cpu = await cpuOverWindow(server.proc.pid);
    assert.ok(cpu < MAX_CPU_IN_WINDOW_S, `the server used ${cpu.toFixed(2)} s of CPU in ${WINDOW_MS} ms while holding connections`);
    const health = await httpRequest(`${server.url}/health`, { timeoutMs: 20_000 });
    assert.equal(health.status, 200);
  } finally {
    for (const conn of conns) conn.destroy();
    await server.stop();
  }
});

test('descriptors exhausted (--max-connections above the limit) by requests in progress: accept backs off, then recovers', async () => {
  // Partial heads cannot be closed to make room, so accept() meets EMFILE; each loop then retries
  // every 100 ms instead of spinning, until the header timeout frees descriptors.
  const server = await startServer({ nofileLimit: 1024, args: ['--max-connections', '5000', '--header-timeout', '6s'] });
  const conns = await hold(server.port, HELD, 'GET /health HTTP/1.1\r\nHost: x\r\n');
  try {
    await waitFor(() => /accept failed: Too many open files/.test(server.stderr), { timeoutMs: 20_000, what: 'the EMFILE log line' });
    const cpu = await cpuOverWindow(server.proc.pid);
    assert.ok(cpu < MAX_CPU_IN_WINDOW_S, `the server used ${cpu.toFixed(2)} s of CPU in ${WINDOW_MS} ms at EMFILE`);
    const health = await httpRequest(`${server.url}/health`, { timeoutMs: 30_000 });
    assert.equal(health.status, 200);
    assert.match(server.stderr, /accepting connections again/);
  } finally {
    for (const conn of conns) conn.destroy();
    await server.stop();
  }
});

test('the default --max-connections stops accepting before the descriptors run out', async () => {
  const server = await startServer({ nofileLimit: 1024, args: ['--header-timeout', '6s'] });
  const conns = await hold(server.port, HELD, 'GET /health HTTP/1.1\r\nHost: x\r\n');
  try {
    const { max } = maxConnections(server.stderr);
    await waitFor(async () => (await openDescriptors(server.proc.pid)) >= max, { timeoutMs: 20_000, what: `${max} connections accepted` });
    const cpu = await cpuOverWindow(server.proc.pid);
    assert.ok(cpu < MAX_CPU_IN_WINDOW_S, `the server used ${cpu.toFixed(2)} s of CPU in ${WINDOW_MS} ms at its connection limit`);
    assert.doesNotMatch(server.stderr, /accept failed/);
    const health = await httpRequest(`${server.url}/health`, { timeoutMs: 30_000 });
    assert.equal(health.status, 200);
  } finally {
    for (const conn of conns) conn.destroy();
    await server.stop();
  }
});

test('--max-connections N: never more than N connections at once; the others wait in the backlog until a slot frees', async () => {
  // Heads that never end hold their slots until the header timeout answers 408, or until, a second
  // old, one is closed for a connection waiting in the backlog; only then does that one get in.
  const LIMIT = 8;
  const server = await startServer({ args: ['--max-connections', String(LIMIT), '--header-timeout', '2s'] });
  const conns = await hold(server.port, 20, 'GET /health HTTP/1.1\r\nHost: x\r\n');
  try {
    let most = 0;
    await waitFor(async () => {
      most = Math.max(most, await readAndOpenOnServer(conns));
      return most > LIMIT || conns.every((c) => c.finished);
    }, { timeoutMs: 30_000, intervalMs: 10, what: 'every held connection answered' });
    assert.equal(most, LIMIT, `at most ${LIMIT} connections open at once, and that many reached`);
    for (const conn of conns) assert.match(conn.data.toString('latin1'), /^(HTTP\/1\.1 408 [^]*)?$/);
    const health = await httpRequest(`${server.url}/health`);
    assert.equal(health.status, 200);
  } finally {
    for (const conn of conns) conn.destroy();
    await server.stop();
  }
});
