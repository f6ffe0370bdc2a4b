// Writes one bearer token per line for USERS buyers (bench-buyer-1 ... bench-buyer-USERS), valid for
// an hour, for bench/token-storm.lua. Until `flashsale loadtest --jwt-secret/--jwt-private-key`
// mints its own, this is how the token storms get theirs.
//   node bench/mint-tokens.mjs hs256 SECRET USERS > tokens.txt
//   node bench/mint-tokens.mjs rs256 PRIVATE_KEY_PEM_FILE USERS > tokens.txt
//   node bench/mint-tokens.mjs es256 PRIVATE_KEY_PEM_FILE USERS > tokens.txt
//   node bench/mint-tokens.mjs header - USERS > users.txt      (the bare buyer ids, for header mode)
import { createHmac, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const [alg, key, usersText] = process.argv.slice(2);
const users = Number(usersText);
if (!['hs256', 'rs256', 'es256', 'header'].includes(alg) || !(users > 0)) {
  console.error('usage: node bench/mint-tokens.mjs hs256|rs256|es256|header SECRET|KEY_FILE|- USERS');
  process.exit(2);
}
const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const privateKey = alg === 'rs256' || alg === 'es256' ? createPrivateKey(readFileSync(key)) : null;
const now = Math.floor(Date.now() / 1000);
const lines = [];
for (let i = 1; i <= users; i++) {
  const sub = `bench-buyer-${i}`;
  if (alg === 'header') {
    lines.push(sub);
    continue;
  }
  const input = `${b64({ alg: alg.toUpperCase(), typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + 3600 })}`;
  const signature =
    alg === 'hs256'
      ? createHmac('sha256', key).update(input).digest()
      : sign('sha256', Buffer.from(input), alg === 'es256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  lines.push(`${input}.${signature.toString('base64url')}`);
}
process.stdout.write(`${lines.join('\n')}\n`);
