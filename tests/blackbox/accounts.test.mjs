// Built-in accounts: register, login (by username or email), the same 401 for a wrong password and
// an unknown user, tokens that buy, `flashsale user grant-admin` while the server runs, and the
// hashing pool's 503 when it is full. Both modes (SQLite / PostgreSQL).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runBinary, uniqueUser, uniqueSku, isoIn, ISO_MS_Z, assertOk, assertError, storm, MODE_NAME } from './lib/harness.mjs';
import { payloadOf } from './lib/jwt.mjs';

const SECRET = 'accounts-secret-with-more-than-32-bytes!';
let server;

before(async () => {
  server = await startServer({ args: ['--auth', 'jwt', '--jwt-secret', SECRET] });
});
after(async () => {
  await server?.stop();
});

// A unique, valid username (3-32 of [A-Za-z0-9_.-]).
let counter = 0;
function username(prefix = 'u') {
  counter += 1;
  return `${prefix}${counter}_${uniqueUser('').slice(-12).replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 32);
}

function registration(name = username(), extra = {}) {
  return { username: name, email: `${name}@example.com`, password: 'correct horse battery', fullName: 'Zoë Example', ...extra };
}

const register = (srv, body) => srv.api('POST', '/api/v1/auth/register', { body });
const login = (srv, body) => srv.api('POST', '/api/v1/auth/login', { body });

test('register: 201 with the account, never the password', async () => {
  const body = registration();
  const before = Date.now();
  const res = await register(server, body);
  const account = assertOk(res, 201);
  assert.deepEqual(Object.keys(account).sort(), ['createdAt', 'email', 'fullName', 'role', 'userId', 'username']);
  assert.equal(account.userId, body.username);
  assert.equal(account.username, body.username);
  assert.equal(account.email, body.email);
  assert.equal(account.fullName, body.fullName);
  assert.equal(account.role, 'buyer');
  assert.match(account.createdAt, ISO_MS_Z);
  assert.ok(Date.parse(account.createdAt) >= before - 1000);
  assert.ok(!res.text.includes(body.password));
});

test('register: a taken username or email, in any case, is 409 naming the field', async () => {
  const body = registration();
  assertOk(await register(server, body), 201);
  assertError(await register(server, registration(body.username.toUpperCase(), { email: `x${body.email}` })), 409, 'CONFLICT', { field: 'username' });
  assertError(await register(server, registration(username(), { email: body.email.toUpperCase() })), 409, 'CONFLICT', { field: 'email' });
});

test('register: each bad field is 400 naming it', async () => {
  const long = (n) => 'x'.repeat(n);
  const cases = [
    [{ username: 'ab' }, 'username'],
    [{ username: long(33) }, 'username'],
    [{ username: 'has space' }, 'username'],
    [{ username: 'bad@name' }, 'username'],
    [{ username: 7 }, 'username'],
    [{ username: undefined }, 'username'],
    [{ email: 'no-at-sign' }, 'email'],
    [{ email: 'two@@example.com' }, 'email'],
    [{ email: `${long(250)}@a.bc` }, 'email'],
    [{ email: undefined }, 'email'],
    [{ password: 'short' }, 'password'],
    [{ password: long(129) }, 'password'],
    [{ password: 12345678 }, 'password'],
    [{ password: undefined }, 'password'],
    [{ fullName: '' }, 'fullName'],
    [{ fullName: long(101) }, 'fullName'],
    [{ fullName: 'tab\there' }, 'fullName'],
    [{ fullName: undefined }, 'fullName'],
  ];
  for (const [override, field] of cases) {
    const body = { ...registration(), ...override };
    for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
    assertError(await register(server, body), 400, 'VALIDATION_ERROR', { field });
  }
  assertError(await server.api('POST', '/api/v1/auth/register', { body: 'not json' }), 400, 'VALIDATION_ERROR', { field: 'body' });
  // 100 characters of several bytes each are a valid name
  assertOk(await register(server, registration(username(), { fullName: 'é'.repeat(100) })), 201);
});

test('login by username or email gives a token whose sub is the username; it buys', async () => {
  const body = registration();
  assertOk(await register(server, body), 201);
  const before = Date.now();
  for (const name of [body.username, body.username.toUpperCase(), body.email, body.email.toUpperCase()]) {
    const data = assertOk(await login(server, { username: name, password: body.password }));
    assert.deepEqual(Object.keys(data).sort(), ['expiresAt', 'token', 'userId']);
    assert.equal(data.userId, body.username);
    assert.match(data.expiresAt, ISO_MS_Z);
    const claims = payloadOf(data.token);
    assert.equal(claims.sub, body.username);
    assert.equal(claims.role, undefined);
    assert.equal(claims.exp * 1000, Date.parse(data.expiresAt));
    assert.ok(claims.exp * 1000 > before + 3_500_000, 'a token lives about an hour');
  }
  const { token } = assertOk(await login(server, { username: body.username, password: body.password }));
  const { sku } = await server.createSale({ initialStock: 3 });
  const purchase = assertOk(await server.api('POST', '/api/v1/purchases', { headers: { Authorization: `Bearer ${token}` }, body: { sku } }));
  assert.equal(purchase.userId, body.username);
});

test('a wrong password and an unknown user get the very same 401', async () => {
  const body = registration();
  assertOk(await register(server, body), 201);
  const wrong = await login(server, { username: body.username, password: `${body.password}!` });
  const unknown = await login(server, { username: username('ghost'), password: body.password });
  const unknownEmail = await login(server, { username: 'ghost@example.com', password: body.password });
  for (const res of [wrong, unknown, unknownEmail]) {
    assertError(res, 401, 'UNAUTHORIZED');
    assert.equal(res.text, wrong.text);
    assert.equal(res.json.error.message, 'invalid username or password');
  }
  // missing fields are a 400, not a 401
  assertError(await login(server, { username: body.username }), 400, 'VALIDATION_ERROR', { field: 'password' });
  assertError(await login(server, { password: body.password }), 400, 'VALIDATION_ERROR', { field: 'username' });
});

// The storage flags `serve` got, for `flashsale user grant-admin`.
function storageArgs(srv) {
  const args = ['--data-dir', srv.dataDir];
  const storeArgs = srv.storeArgs ?? [];
  for (let i = 0; i < storeArgs.length; i++) {
    if (storeArgs[i] === '--redis' || storeArgs[i] === '--postgres') args.push(storeArgs[i], storeArgs[i + 1]);
  }
  return args;
}

test('user grant-admin, while the server runs: the next login carries role admin, which opens the admin API', async () => {
  const body = registration();
  assertOk(await register(server, body), 201);
  const { token: before } = assertOk(await login(server, { username: body.username, password: body.password }));
  const newSale = () => ({ sku: uniqueSku('GRANT'), productName: 'Granted', initialStock: 1, startTime: isoIn(60_000), endTime: isoIn(3_600_000) });
  assertError(await server.api('POST', '/api/v1/products', { headers: { Authorization: `Bearer ${before}` }, body: newSale() }), 403, 'FORBIDDEN');

  const granted = await runBinary(['user', 'grant-admin', body.username, ...storageArgs(server)]);
  assert.equal(granted.code, 0, granted.stderr);
  const { token } = assertOk(await login(server, { username: body.username, password: body.password }));
  assert.equal(payloadOf(token).role, 'admin');
  assertOk(await server.api('POST', '/api/v1/products', { headers: { Authorization: `Bearer ${token}` }, body: newSale() }), 201);
  // the token from before the grant still says buyer
  assertError(await server.api('GET', '/api/v1/products', { headers: { Authorization: `Bearer ${before}` } }), 403, 'FORBIDDEN');

  const missing = await runBinary(['user', 'grant-admin', username('nobody'), ...storageArgs(server)]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /no account/);
});

test('the hashing pool refuses logins beyond its queue with 503 and Retry-After, and stays correct', async () => {
  const small = await startServer({ args: ['--auth', 'jwt', '--jwt-secret', SECRET, '--login-queue', '1'] });
  try {
    const body = registration();
    assertOk(await register(small, body), 201);
    const results = await storm(Array.from({ length: 24 }, (_, i) => i), () => login(small, { username: body.username, password: body.password }));
    const refused = results.filter((r) => r.status === 503);
    const ok = results.filter((r) => r.status === 200);
    assert.ok(refused.length > 0, `no 503 among ${results.map((r) => r.status)}`);
    assert.ok(ok.length > 0, `no login got through: ${results.map((r) => r.status)}`);
    assert.equal(ok.length + refused.length, results.length, results.map((r) => r.status).join());
    for (const res of refused) {
      assertError(res, 503, 'SERVICE_UNAVAILABLE');
      assert.match(res.headers['retry-after'], /^[1-9][0-9]*$/);
    }
    // purchases were never waiting for the hashes
    const { sku } = await small.createSale({ initialStock: 1 });
    assertOk(await small.api('POST', '/api/v1/purchases', { headers: { Authorization: `Bearer ${ok[0].json.data.token}` }, body: { sku } }));
  } finally {
    await small.stop();
  }
});

test('without an HS256 secret there is no registration or login', async () => {
  const plain = await startServer();
  try {
    assertError(await register(plain, registration()), 404, 'NOT_FOUND');
    assertError(await login(plain, { username: 'someone', password: 'whatever-pass' }), 404, 'NOT_FOUND');
  } finally {
    await plain.stop();
  }
});

test('accounts are stored: they survive a restart', async () => {
  const body = registration();
  assertOk(await register(server, body), 201);
  await server.restart();
  assertOk(await login(server, { username: body.username, password: body.password }));
  assertError(await register(server, body), 409, 'CONFLICT', { field: 'username' });
  if (MODE_NAME === 'distributed') {
    const rows = await server.dbQuery(`SELECT username, role FROM accounts WHERE username = '${body.username}'`);
    assert.deepEqual(rows, [{ username: body.username, role: 'buyer' }]);
  }
});
