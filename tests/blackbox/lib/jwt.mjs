// JSON Web Tokens for the black-box tests, made with node:crypto alone: HS256 with any key bytes,
// RS256 and ES256 with a private key, and hand-made headers for the forgeries the server must refuse.
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';

const b64 = (value) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export const nowSeconds = () => Math.floor(Date.now() / 1000);

// A claim set for sub that is valid for an hour, plus any extra claims (undefined ones are dropped).
export function claims(sub, extra = {}) {
  const now = nowSeconds();
  const all = { sub, iat: now, exp: now + 3600, ...extra };
  for (const name of Object.keys(all)) if (all[name] === undefined) delete all[name];
  return all;
}

// header.payload, signed: alg HS256 with key (a string or Buffer: any bytes, a PEM text included),
// RS256/ES256 with a KeyObject, 'none' unsigned. header overrides the default {alg, typ: 'JWT'}.
export function makeToken(payload, { alg = 'HS256', key, header } = {}) {
  const input = `${b64(header ?? { alg, typ: 'JWT' })}.${b64(payload)}`;
  let signature = '';
  if (alg === 'HS256') signature = createHmac('sha256', key).update(input).digest('base64url');
  else if (alg === 'RS256') signature = sign('sha256', Buffer.from(input), key).toString('base64url');
  else if (alg === 'ES256') signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${input}.${signature}`;
}

// {privateKey (KeyObject), publicPem (text)} of a fresh RSA 2048 or EC P-256 key pair.
export function keyPair(type) {
  const { privateKey, publicKey } =
    type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) };
}

// The decoded payload of a token (no verification).
export function payloadOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}
