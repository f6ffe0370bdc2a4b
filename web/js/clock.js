// The server's clock, as seen from the browser. A countdown to the start of a sale must not
// depend on how wrong the visitor's clock is, so the page measures the offset once (and again
// every 10 minutes): GET /api/v1/info answers serverTime; the server read its clock somewhere
// inside the round trip, so we assume its middle. Of a few samples the one with the shortest
// round trip wins (least uncertainty). A server without /api/v1/info still sends a `Date`
// header (1 s resolution): then the offset is good to about half a second.

const SAMPLES = 3;
const RESYNC_MS = 10 * 60 * 1000;

let offsetMs = 0;
let uncertaintyMs = Infinity;
let source = 'none';

/** Milliseconds since the epoch on the server's clock. */
export function serverNow() {
  return Date.now() + offsetMs;
}

export function clockStatus() {
  return { offsetMs, uncertaintyMs, source };
}

async function sample() {
  const sentAt = Date.now();
  const t0 = performance.now();
  let response;
  try {
    response = await fetch('/api/v1/info', { cache: 'no-store', headers: { Accept: 'application/json' } });
  } catch {
    return null;
  }
  const rtt = performance.now() - t0;
  const receivedAt = sentAt + rtt;
  let info = null;
  try {
    const json = await response.json();
    if (json && json.success && json.data) info = json.data;
  } catch {
    info = null;
  }
  const serverTime = info && Date.parse(info.serverTime);
  if (Number.isFinite(serverTime)) {
    return { info, rtt, offset: serverTime + rtt / 2 - receivedAt, uncertainty: rtt / 2, source: 'info' };
  }
  const date = Date.parse(response.headers.get('Date') || '');
  if (Number.isFinite(date)) {
    // The header truncates to the second: the true time is in [date, date + 1000).
    return { info: null, rtt, offset: date + 500 + rtt / 2 - receivedAt, uncertainty: 500 + rtt / 2, source: 'date' };
  }
  return { info: null, rtt, offset: 0, uncertainty: Infinity, source: 'none', failed: !response.ok };
}

/**
 * Measures the offset; resolves to /api/v1/info's data (or null when the server has none).
 * Each call replaces the offset with its own best sample (clocks drift; an old sample ages).
 */
export async function syncClock() {
  let best = null;
  let info = null;
  for (let i = 0; i < SAMPLES; i++) {
    const s = await sample();
    if (!s) continue;
    if (s.info) info = s.info;
    if (!best || s.uncertainty < best.uncertainty) best = s;
    if (s.source !== 'info') break; // a Date header does not get better with more samples
  }
  if (best && best.source !== 'none') {
    offsetMs = Math.round(best.offset);
    uncertaintyMs = Math.round(best.uncertainty);
    source = best.source;
  }
  return info;
}

/** Starts the periodic resync; returns the first sync's promise. */
export function startClock() {
  const first = syncClock();
  setInterval(syncClock, RESYNC_MS);
  return first;
}
