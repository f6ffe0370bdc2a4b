// A stand-in server speaking the flashsale API for one sale, for testing `flashsale loadtest`
// against behaviours the real server never shows.
//
// behaviour:
//   'lying'    answers success to every purchase but records nothing: stock stays, the orders list
//              stays empty (the load test's verification must FAIL);
//   'honest'   keeps stock and orders correctly (one per buyer), so a storm against it must PASS;
//   'limiting' honest, but every third purchase is refused with 429 RATE_LIMITED (as the identity
//              work's rate limits answer) before any decision.
// stall (optional): {afterMs, forMs}: from afterMs after the first purchase, for forMs, no purchase is
//   answered; those are answered when the stall ends (a server that froze).
// jwt (optional): {secret} or {publicKey} (a KeyObject, RS256 or ES256). Then the buyer is the `sub`
//   of a verified `Authorization: Bearer` token (signature, alg and exp checked) and every token seen
//   is kept in server.tokens, so a test can look at them; a bad token answers 401.
//
// Not a model of the real server's concurrency: one Node event loop decides purchases in order.

import http from 'node:http';
import crypto from 'node:crypto';

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

// The token's claims when its signature, algorithm and expiry hold; otherwise a reason string.
function verifyToken(token, jwt) {
  const parts = token.split('.');
  if (parts.length !== 3) return 'not a JWT';
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  const signed = `${parts[0]}.${parts[1]}`;
  const signature = Buffer.from(parts[2], 'base64url');
  if (jwt.secret !== undefined) {
    if (header.alg !== 'HS256') return `alg ${header.alg}`;
    const expected = crypto.createHmac('sha256', jwt.secret).update(signed).digest();
    if (signature.length !== expected.length || !crypto.timingSafeEqual(expected, signature)) return 'bad signature';
  } else {
    const alg = jwt.publicKey.asymmetricKeyType === 'rsa' ? 'RS256' : 'ES256';
    if (header.alg !== alg) return `alg ${header.alg}, expected ${alg}`;
    const ok = crypto.verify('sha256', Buffer.from(signed), { key: jwt.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    if (!ok) return 'bad signature';
  }
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return 'expired or no exp';
  if (typeof claims.sub !== 'string' || claims.sub === '') return 'no sub';
  return claims;
}

export async function startFakeSaleServer({ sku, stock, behaviour, adminKey, jwt, stall }) {
  let remaining = stock;
  const orders = []; // {purchaseNo, sku, userId, purchasedAt}
  const byBuyer = new Map();
  const tokens = [];
  let sequence = 0;
  let purchases = 0;
  let firstPurchaseAt;

  const sale = () => ({
    sku, productName: 'fake', state: 'ACTIVE', endReason: null,
    stock: remaining, initialStock: stock,
    startTime: '2020-01-01T00:00:00.000Z', endTime: '2099-01-01T00:00:00.000Z',
  });

  function purchase(req, res) {
    let userId = req.headers['x-user-id'];
    if (jwt) {
      const auth = req.headers.authorization ?? '';
      const claims = auth.startsWith('Bearer ') ? verifyToken(auth.slice(7), jwt) : 'no bearer token';
      if (typeof claims === 'string') return send(res, 401, { success: false, error: { code: 'UNAUTHORIZED', message: claims } });
      tokens.push(auth.slice(7));
      userId = claims.sub;
    }
    if (!userId) return send(res, 400, { success: false, error: { code: 'VALIDATION_ERROR', message: 'no buyer', field: 'X-User-Id' } });
    purchases += 1;
    if (behaviour === 'limiting' && purchases % 3 === 0) {
      return send(res, 429, { success: false, error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 1000 } }, { 'Retry-After': '1' });
    }
    if (behaviour === 'lying') {
      sequence += 1;
      return send(res, 200, { success: true, data: { purchaseNo: `FS1-${sequence}`, sku, userId, purchasedAt: new Date().toISOString() } });
    }
    const held = byBuyer.get(userId);
    if (held) return send(res, 200, { success: false, error: { code: 'ALREADY_PURCHASED', message: 'already', purchaseNo: held.purchaseNo } });
    if (remaining === 0) return send(res, 200, { success: false, error: { code: 'SOLD_OUT', message: 'sold out' } });
    remaining -= 1;
    sequence += 1;
    const order = { purchaseNo: `FS1-${sequence}`, sku, userId, purchasedAt: new Date().toISOString() };
    orders.push(order);
    byBuyer.set(userId, order);
    return send(res, 200, { success: true, data: order });
  }

  // A purchase now, or when the stall ends if it arrived during the stall.
  function purchaseOrWait(req, res) {
    if (stall) {
      firstPurchaseAt ??= Date.now();
      const now = Date.now();
      const stallEnd = firstPurchaseAt + stall.afterMs + stall.forMs;
      if (now >= firstPurchaseAt + stall.afterMs && now < stallEnd) {
        setTimeout(() => purchase(req, res), stallEnd - now);
        return;
      }
    }
    purchase(req, res);
  }

  function products(url, res) {
    const rest = url.pathname.slice('/api/v1/products/'.length).split('/');
    if (rest[0] !== sku) return send(res, 404, { success: false, error: { code: 'NOT_FOUND', message: 'no sale' } });
    if (rest.length === 1) {
      return send(res, 200, { success: true, data: { ...sale(), currentStock: remaining, totalPurchases: stock - remaining, createdAt: '2020-01-01T00:00:00.000Z' } });
    }
    const limit = Number(url.searchParams.get('limit') ?? 100);
    const after = url.searchParams.get('after');
    const start = after === null ? 0 : orders.findIndex((o) => o.purchaseNo === after) + 1;
    const page = orders.slice(start, start + limit);
    const next = start + limit < orders.length ? page[page.length - 1].purchaseNo : null;
    return send(res, 200, { success: true, data: page, meta: { nextCursor: next } });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET' && url.pathname === '/api/v1/sales') {
        if (url.searchParams.get('sku') !== sku) return send(res, 404, { success: false, error: { code: 'NOT_FOUND', message: 'no sale' } });
        return send(res, 200, { success: true, data: sale() });
      }
      if (req.method === 'POST' && url.pathname === '/api/v1/purchases') return purchaseOrWait(req, res);
      if (url.pathname.startsWith('/api/v1/products/')) {
        if (req.headers['x-admin-key'] !== adminKey) return send(res, 401, { success: false, error: { code: 'UNAUTHORIZED', message: 'admin key' } });
        return products(url, res);
      }
      return send(res, 404, { success: false, error: { code: 'NOT_FOUND', message: 'no such route' } });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    orders,
    tokens,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}
