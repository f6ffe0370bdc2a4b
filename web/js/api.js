// The one way the pages speak to the server: the JSON envelope, errors as values, and the
// credentials of the page (buyer id or bearer token, admin key) added as headers.
//
// request() never throws for an answer: it resolves to
//   {ok: true,  status, data, meta, headers}
//   {ok: false, status, error: {code, message, field?, purchaseNo?, retryAfterMs?}, headers}
// A failure to reach the server is status 0 with code NETWORK_ERROR (or TIMEOUT).

const credentials = { userId: '', token: '', adminKey: '' };

export function setBuyer({ userId = '', token = '' } = {}) {
  credentials.userId = userId;
  credentials.token = token;
}

export function setAdminKey(key) {
  credentials.adminKey = key || '';
}

/** Headers that identify the caller for `auth` = 'buyer' | 'admin' | 'none'. */
export function authHeaders(auth) {
  const headers = {};
  if (auth === 'buyer') {
    if (credentials.token) headers.Authorization = `Bearer ${credentials.token}`;
    else if (credentials.userId) headers['X-User-Id'] = credentials.userId;
  } else if (auth === 'admin' && credentials.adminKey) {
    headers['X-Admin-Key'] = credentials.adminKey;
  }
  return headers;
}

/** Milliseconds to wait from a 429/503: error.retryAfterMs, else Retry-After (seconds or a date). */
export function retryAfterMs(error, headers) {
  if (error && Number.isFinite(error.retryAfterMs)) return Math.max(0, error.retryAfterMs);
  const value = headers && headers.get('Retry-After');
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/**
 * request(path, {method, body, auth, timeoutMs, cache, headers, raw})
 * `raw: true` returns {ok, status, response} without reading the body when the status is 2xx
 * (for CSV); errors are still decoded.
 */
export async function request(path, options = {}) {
  const { method = 'GET', body, auth = 'none', timeoutMs = 15000, cache = 'no-store', raw = false } = options;
  const headers = { Accept: 'application/json', ...authHeaders(auth), ...(options.headers || {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache,
      signal: controller.signal,
      credentials: 'same-origin',
    });
  } catch (err) {
    clearTimeout(timer);
    const timedOut = controller.signal.aborted;
    return {
      ok: false,
      status: 0,
      headers: new Headers(),
      error: {
        code: timedOut ? 'TIMEOUT' : 'NETWORK_ERROR',
        message: timedOut ? 'the server did not answer in time' : 'the server could not be reached',
      },
    };
  }
  clearTimeout(timer);
  if (raw && response.ok) return { ok: true, status: response.status, headers: response.headers, response };

  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  if (json && json.success === true) {
    return { ok: true, status: response.status, data: json.data, meta: json.meta, headers: response.headers };
  }
  const error =
    json && json.success === false && json.error
      ? { ...json.error }
      : { code: response.ok ? 'BAD_RESPONSE' : `HTTP_${response.status}`, message: `unexpected answer (HTTP ${response.status})` };
  const wait = retryAfterMs(error, response.headers);
  if (wait !== null) error.retryAfterMs = wait;
  return { ok: false, status: response.status, error, headers: response.headers };
}

/**
 * An error's message as a sentence to show next to its field: "sku must be 1-64 ..." becomes
 * "Must be 1-64 ....", since the field's label is right there.
 */
export function fieldMessage(error) {
  let text = (error && error.message) || 'The server refused the request';
  if (error && error.field && text.startsWith(`${error.field} `)) text = text.slice(error.field.length + 1);
  text = text[0].toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

export const api = {
  sales: () => request('/api/v1/sales', { cache: 'default' }),
  sale: (sku) => request(`/api/v1/sales?sku=${encodeURIComponent(sku)}`, { cache: 'default' }),
  buy: (sku) => request('/api/v1/purchases', { method: 'POST', body: { sku }, auth: 'buyer' }),
  myPurchase: (sku) => request(`/api/v1/purchases?sku=${encodeURIComponent(sku)}`, { auth: 'buyer' }),
  register: (fields) => request('/api/v1/auth/register', { method: 'POST', body: fields }),
  login: (username, password) => request('/api/v1/auth/login', { method: 'POST', body: { username, password } }),
  products: () => request('/api/v1/products', { auth: 'admin' }),
  createProduct: (fields) => request('/api/v1/products', { method: 'POST', body: fields, auth: 'admin' }),
  updateProduct: (sku, fields) =>
    request(`/api/v1/products/${encodeURIComponent(sku)}`, { method: 'PUT', body: fields, auth: 'admin' }),
  deleteProduct: (sku) => request(`/api/v1/products/${encodeURIComponent(sku)}`, { method: 'DELETE', auth: 'admin' }),
  orders: (sku, { after, limit } = {}) => {
    const query = new URLSearchParams();
    if (after) query.set('after', after);
    if (limit) query.set('limit', String(limit));
    const text = query.toString();
    return request(`/api/v1/products/${encodeURIComponent(sku)}/purchases${text ? `?${text}` : ''}`, { auth: 'admin' });
  },
  ordersCsv: (sku) =>
    request(`/api/v1/products/${encodeURIComponent(sku)}/purchases?format=csv`, {
      auth: 'admin',
      raw: true,
      timeoutMs: 300000,
      headers: { Accept: 'text/csv' },
    }),
};
