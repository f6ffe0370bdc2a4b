// Live sale events with a polling fallback, shared by the buyer and the operator page.
//
// The stream is GET /api/v1/sales/events[?sku=SKU]: unnamed server-sent events (so `onmessage`
// sees them), each `data:` a JSON {type, data} with type initial | stock-update | state-change |
// sale-deleted. While it is open the page is "live" and never polls. When it fails (a 404 from
// a server without events, a 503 beyond --max-subscribers, a dropped connection) the page polls
// `poll()` every 2 s and says "polling" until the stream is back; the browser itself reconnects
// a dropped stream, and a stream the browser gave up on is reopened here with a backoff.
// Polled snapshots are handed over as the same events: an `initial` per sale, and a
// `sale-deleted` for a sale that was there on the previous poll and is gone now.

const POLL_MS = 2000;
const REOPEN_MIN_MS = 2000;
const REOPEN_MAX_MS = 30000;

/**
 * openFeed({sku, poll, onEvent, onMode}) -> {close(), mode()}
 *   poll():      async -> array of sales, or null when the server could not be reached
 *   onEvent(e):  e = {type, data}
 *   onMode(m):   'connecting' | 'live' | 'polling' | 'offline'
 */
export function openFeed({ sku = null, poll, onEvent, onMode, pollMs = POLL_MS }) {
  let source = null;
  let mode = '';
  let pollTimer = 0;
  let reopenTimer = 0;
  let reopenDelay = REOPEN_MIN_MS;
  let polledSkus = null;
  let closed = false;

  const setMode = (next) => {
    if (next === mode) return;
    mode = next;
    onMode(next);
  };

  const url = sku ? `/api/v1/sales/events?sku=${encodeURIComponent(sku)}` : '/api/v1/sales/events';

  function openStream() {
    reopenTimer = 0;
    if (closed || typeof EventSource === 'undefined') return;
    source = new EventSource(url);
    source.onopen = () => {
      reopenDelay = REOPEN_MIN_MS;
      polledSkus = null;
      stopPolling();
      setMode('live');
    };
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (event && typeof event.type === 'string' && event.data) onEvent(event);
    };
    source.onerror = () => {
      if (!source) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error or not an event stream): reopen later ourselves.
        source.close();
        source = null;
        reopenTimer = setTimeout(openStream, reopenDelay);
        reopenDelay = Math.min(reopenDelay * 2, REOPEN_MAX_MS);
      }
      startPolling();
    };
  }

  async function pollOnce() {
    pollTimer = 0;
    if (closed || mode === 'live') return;
    const sales = await poll();
    if (closed || mode === 'live') return;
    if (sales === null) {
      setMode('offline');
    } else {
      setMode('polling');
      const now = new Set(sales.map((sale) => sale.sku));
      if (polledSkus) {
        for (const gone of polledSkus) if (!now.has(gone)) onEvent({ type: 'sale-deleted', data: { sku: gone } });
      }
      polledSkus = now;
      for (const sale of sales) onEvent({ type: 'initial', data: sale, polled: true });
    }
    pollTimer = setTimeout(pollOnce, pollMs);
  }

  function startPolling() {
    if (mode === 'live' || mode === 'connecting' || mode === '') setMode('polling');
    if (!pollTimer) pollTimer = setTimeout(pollOnce, 0);
  }

  function stopPolling() {
    clearTimeout(pollTimer);
    pollTimer = 0;
  }

  setMode('connecting');
  if (typeof EventSource === 'undefined') startPolling();
  else openStream();

  return {
    mode: () => mode,
    close() {
      closed = true;
      stopPolling();
      clearTimeout(reopenTimer);
      if (source) source.close();
      source = null;
    },
  };
}
