// The command line of identity and rate limits: --help names every flag and `user grant-admin`,
// and each bad value (flag or environment variable) ends the start with one line on stderr.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBinary, freePort, startServer } from './lib/harness.mjs';

const tmpDirs = [];
async function tmpDir() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'flashsale-idcli-'));
  tmpDirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of tmpDirs) await rm(dir, { recursive: true, force: true });
});

async function serveArgs(extra = []) {
  const port = await freePort();
  return ['serve', '--listen', '127.0.0.1', '--port', String(port), '--data-dir', await tmpDir(), '--threads', '1',
    '--admin-key', 'identity-cli-key', ...extra];
}

function assertConfigError(result, pattern) {
  assert.equal(result.code, 2, `expected exit 2; stderr: ${result.stderr}`);
  const text = result.stderr.replace(/\n$/, '');
  assert.ok(text.length > 0 && !text.includes('\n'), `not one line on stderr:\n${result.stderr}`);
  assert.match(text, pattern);
}

test('--help names every identity flag, its variable, and user grant-admin', async () => {
  const { code, stdout } = await runBinary(['serve', '--help']);
  assert.equal(code, 0);
  for (const text of ['--auth', 'AUTH_MODE', '--jwt-secret', 'JWT_SECRET', '--jwt-public-key', 'JWT_PUBLIC_KEY',
    '--jwt-issuer', 'JWT_ISSUER', '--jwt-audience', 'JWT_AUDIENCE', '--jwt-ttl', 'JWT_TTL', '--login-queue', 'LOGIN_QUEUE',
    '--rate-limit-ip', 'RATE_LIMIT_IP', '--rate-limit-user', 'RATE_LIMIT_USER', '--trusted-proxy', 'TRUSTED_PROXY',
    'N/s or N/min', 'burst', 'user grant-admin USERNAME']) {
    assert.ok(stdout.includes(text), `--help lacks ${text}:\n${stdout}`);
  }
});

test('bad identity and rate-limit settings: exit 2 with one line naming the problem', async () => {
  const dir = await tmpDir();
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
  await writeFile(path.join(dir, 'private.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(path.join(dir, 'public.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(path.join(dir, 'small.pem'), small.export({ type: 'spki', format: 'pem' }));
  const secret = 'a-secret-of-at-least-thirty-two-bytes';
  const cases = [
    [['--auth', 'oauth'], {}, /auth mode must be header or jwt/],
    [['--auth', 'jwt'], {}, /jwt mode needs a key/],
    [['--auth', 'jwt', '--jwt-secret', 'too-short'], {}, /at least 32 bytes/],
    [['--auth', 'jwt', '--jwt-secret', secret, '--jwt-public-key', path.join(dir, 'public.pem')], {}, /not both/],
    [['--jwt-public-key', path.join(dir, 'public.pem')], {}, /needs --auth jwt/],
    [['--auth', 'jwt', '--jwt-public-key', path.join(dir, 'missing.pem')], {}, /missing\.pem/],
    [['--auth', 'jwt', '--jwt-public-key', path.join(dir, 'private.pem')], {}, /public key/],
    [['--auth', 'jwt', '--jwt-public-key', path.join(dir, 'small.pem')], {}, /2048/],
    [['--jwt-secret', secret, '--jwt-ttl', '5'], {}, /ttl/],
    [['--jwt-secret', secret, '--login-queue', '0'], {}, /login queue/],
    [['--rate-limit-ip', '10/h'], {}, /--rate-limit-ip '10\/h'/],
    [['--rate-limit-user', '10/s,burst=0'], {}, /--rate-limit-user/],
    [[], { RATE_LIMIT_USER: 'lots' }, /--rate-limit-user 'lots'/],
    [['--trusted-proxy', '10.0.0.1/8'], {}, /host bits/],
    [[], { TRUSTED_PROXY: '10.0.0.0/8,nonsense' }, /nonsense/],
    [[], { AUTH_MODE: 'jwt' }, /jwt mode needs a key/],
  ];
  for (const [extra, env, pattern] of cases) assertConfigError(await runBinary(await serveArgs(extra), { env }), pattern);
});

test('a flag wins over its variable; --trusted-proxy adds up and replaces TRUSTED_PROXY', async () => {
  // a bad flag fails over a good variable, and a good flag starts the server over a bad one
  assertConfigError(await runBinary(await serveArgs(['--rate-limit-ip', 'bad']), { env: { RATE_LIMIT_IP: '5/s' } }), /'bad'/);
  assertConfigError(await runBinary(await serveArgs(['--trusted-proxy', '::1', '--trusted-proxy', '300.0.0.1']), { env: { TRUSTED_PROXY: '10.0.0.0/8' } }), /300\.0\.0\.1/);
  const server = await startServer({
    args: ['--rate-limit-ip', '5/s', '--trusted-proxy', '::1', '--auth', 'header'],
    env: { RATE_LIMIT_IP: 'bad', TRUSTED_PROXY: 'nonsense', AUTH_MODE: 'jwt' },
  });
  try {
    assert.equal((await server.api('GET', '/health')).status, 200);
    assert.match(server.stderr, /per IP 5\/s,burst=5/);
    assert.match(server.stderr, /1 trusted prox/);
  } finally {
    await server.stop();
  }
});

test('user: the usage is checked, and an unknown account is an error', async () => {
  const usage = await runBinary(['user', 'promote', 'alice']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /grant-admin USERNAME/);
  assert.equal((await runBinary(['user', 'grant-admin'])).code, 2);
  assert.equal((await runBinary(['user', 'grant-admin', 'a', 'b'])).code, 2);
  const missing = await runBinary(['user', 'grant-admin', 'nobody', '--data-dir', await tmpDir()]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /accounts\.db/);
  assert.equal((await runBinary(['user', '--help'])).code, 0);
});
