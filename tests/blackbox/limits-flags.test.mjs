// The connection bounds are flags (issue 11, item 5): --help lists each with its variable, a bad value
// is a configuration error, and the environment variable works like the flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBinary, startServer } from './lib/harness.mjs';
import { exchange } from './lib/raw.mjs';

const FLAGS = {
  '--max-connections': 'MAX_CONNECTIONS',
  '--shutdown-timeout': 'SHUTDOWN_TIMEOUT',
  '--idle-timeout': 'IDLE_TIMEOUT',
  '--header-timeout': 'HEADER_TIMEOUT',
  '--body-timeout': 'BODY_TIMEOUT',
  '--max-header-bytes': 'MAX_HEADER_BYTES',
  '--max-headers': 'MAX_HEADERS',
  '--max-body-bytes': 'MAX_BODY_BYTES',
  '--cors-origin': 'CORS_ORIGIN',
  '--http2': 'HTTP2',
};

test('--help lists every bound with its environment variable', async () => {
  const { code, stdout } = await runBinary(['serve', '--help']);
  assert.equal(code, 0);
  for (const [flag, variable] of Object.entries(FLAGS)) {
    assert.match(stdout, new RegExp(`${flag}\\b`), flag);
    assert.match(stdout, new RegExp(`\\b${variable}\\b`), variable);
  }
});

test('a bad bound is a configuration error naming it', async () => {
  const cases = [
    ['--header-timeout', 'soon'],
    ['--idle-timeout', '10h'],
    ['--max-headers', '0'],
    ['--max-body-bytes', '-5'],
    ['--max-connections', 'many'],
    ['--shutdown-timeout', '99999999'],
  ];
  for (const [flag, value] of cases) {
    const run = await runBinary(['serve', '--demo', flag, value]);
    assert.equal(run.code, 2, `${flag} ${value}: ${run.stderr}`);
    assert.match(run.stderr, new RegExp(flag.slice(2)), run.stderr);
  }
});

test('a bound given as an environment variable applies', async () => {
  const server = await startServer({ env: { MAX_HEADERS: '10' } });
  try {
    const fields = Array.from({ length: 12 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const result = await exchange(server.port, `GET /health HTTP/1.1\r\nHost: x\r\n${fields}\r\n`);
    assert.equal(result.responses[0]?.status, 431);
  } finally {
    await server.stop();
  }
});
