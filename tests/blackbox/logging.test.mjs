// The log: one format on every line (ISO time, level, module), --log-level and LOG_LEVEL, and the
// demo's admin key, which is printed whatever the level because it is the user's only way to learn it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServer, runBinary, freePort, assertOk, waitFor } from './lib/harness.mjs';

const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) [a-z]+: \S/;

function lines(text) {
  return text.split('\n').filter((l) => l !== '');
}

test('every line of a run has the log format; the start and the stop are logged at info', async () => {
  const server = await startServer();
  await server.stopProcess();
  await server.cleanup();
  // The exit may be seen before the last of stderr is read.
  await waitFor(() => server.stderr.includes('stopped cleanly'), { what: 'the last log line' });
  const logged = lines(server.stderr);
  for (const line of logged) assert.match(line, LINE);
  assert.ok(logged.some((l) => l.includes(` info  http: serving http://127.0.0.1:${server.port} with 2 threads`)), server.stderr);
  assert.ok(logged.some((l) => / info  http: (Terminated|Interrupt)\S* received/.test(l)), server.stderr);
  assert.ok(logged.some((l) => l.endsWith(' info  app: stopped cleanly')), server.stderr);
});

test('--log-level and LOG_LEVEL leave out the less severe lines; a flag wins over the variable', async () => {
  for (const options of [{ args: ['--log-level', 'warn'] }, { env: { LOG_LEVEL: 'error' } }, { env: { LOG_LEVEL: 'debug' }, args: ['--log-level', 'warn'] }]) {
    const server = await startServer(options);
    await server.stopProcess();
    await server.cleanup();
    assert.ok(!/ info  /.test(server.stderr), `${JSON.stringify(options)}: info lines were logged:\n${server.stderr}`);
  }
});

test('a log level that does not exist is bad configuration', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-log-'));
  try {
    const args = ['serve', '--port', String(await freePort()), '--data-dir', dir, '--admin-key', 'log-test-key'];
    for (const run of [runBinary([...args, '--log-level', 'loud']), runBinary(args, { env: { LOG_LEVEL: 'INFO' } })]) {
      const result = await run;
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /^flashsale: log level must be error, warn, info or debug, got '(loud|INFO)'\n$/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('--demo prints its admin key once, also at --log-level error, and that key opens the admin API', async () => {
  const server = await startServer({ adminKey: null, args: ['--demo', '--log-level', 'error'] });
  try {
    const printed = lines(server.stderr).filter((l) => l.includes('admin key'));
    assert.equal(printed.length, 1, server.stderr);
    const key = /^flashsale: demo admin key: ([0-9a-f]{32})$/.exec(printed[0])?.[1];
    assert.ok(key, printed[0]);
    assertOk(await server.api('GET', '/api/v1/products', { admin: key }));
  } finally {
    await server.stop();
  }
});
