// The buyer page (GET /): one sale, its countdown on the server's clock, live stock, the Buy
// button and every answer in plain words. The sale is ?sku=SKU, else the live sale, else the
// next one to start (kept while it exists, so the page never jumps under the buyer's finger).

import { api, fieldMessage } from './api.js';
import { startClock, serverNow, clockStatus } from './clock.js';
import { openFeed } from './events.js';
import { SaleStore, effectiveState, stateBadge, pickFeatured } from './sales.js';
import { h, fill, setText, icon, hydrateIcons, fieldErrors } from './dom.js';
import { formatNumber, formatTime, formatDateTime, formatShortDateTime, splitDuration, formatSpoken } from './format.js';
import { identity } from './identity.js';

const TICK_MS = 200;
const STOCK_ANNOUNCE_MS = 10000; // a screen reader hears the stock at most this often

const params = new URLSearchParams(location.search);
const fixedSku = (params.get('sku') || '').trim() || null;

const page = {
  info: null,
  sku: fixedSku,
  loaded: false,
  loadFailed: false,
  buying: false,
  retryAt: 0, // server-clock ms before which a purchase waits (429 / 503 Retry-After)
  identityLoaded: false, // the auth mode is known: which identity form to show
  result: null,
  mine: { status: 'idle', purchase: null },
  mineToken: 0,
  lastStateKey: '',
  lastAnnounce: 0,
  announcedStock: null,
  othersKey: '',
};

const el = {};
const store = new SaleStore(onStoreChange);

// ---- start ---------------------------------------------------------------------------------

function bindElements() {
  for (const id of [
    'sale', 'state-badge', 'sale-sku', 'product-name', 'sale-note', 'countdown', 'countdown-label', 'countdown-digits',
    'cd-days-unit', 'cd-days', 'cd-hours', 'cd-minutes', 'cd-seconds', 'countdown-spoken', 'countdown-at', 'stock',
    'stock-count', 'stock-of', 'stock-sold', 'stock-fill', 'stock-live', 'buy-form', 'buyer-header', 'buyer-name',
    'buyer-jwt', 'buyer-jwt-text', 'buy', 'buy-spinner', 'buy-label', 'result', 'account', 'account-out', 'account-in',
    'account-tabs', 'tab-login', 'tab-register', 'login-form', 'register-form', 'no-registration', 'account-name',
    'account-expiry', 'logout', 'mine', 'mine-card', 'others-card', 'others', 'conn', 'conn-label', 'footer-clock',
  ]) {
    el[id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = document.getElementById(id);
  }
}

async function main() {
  bindElements();
  hydrateIcons();
  el.result.tabIndex = -1;

  openFeed({
    sku: fixedSku,
    poll: pollSales,
    onEvent: (event) => store.apply(event),
    onMode: showMode,
  });

  const [info] = await Promise.all([startClock(), loadSales()]);
  page.info = info;
  identity.load(info ? info.authMode : 'header');
  page.identityLoaded = true;
  setupIdentity();
  renderFooter();
  render();
  loadMine();
  tick();
  if (fixedSku) setTimeout(loadOthers, 1500);
}

async function loadSales() {
  const requestedAt = performance.now();
  const result = fixedSku ? await api.sale(fixedSku) : await api.sales();
  if (result.ok) {
    if (fixedSku) store.put(result.data, { snapshot: true });
    else store.putList(result.data, requestedAt);
  } else if (result.status !== 404) {
    page.loadFailed = true;
  }
  page.loaded = true;
  choose();
  render();
}

async function loadOthers() {
  const result = await api.sales();
  if (!result.ok) return;
  for (const sale of result.data) if (sale.sku !== fixedSku) store.put(sale, { snapshot: true });
}

/** The polling fallback: the same data as the stream, from the cacheable status endpoint. */
async function pollSales() {
  if (fixedSku) {
    const result = await api.sale(fixedSku);
    if (result.ok) return [result.data];
    return result.status === 404 ? [] : null;
  }
  const result = await api.sales();
  return result.ok ? result.data : null;
}

/** Keeps the shown sale while it exists; otherwise picks the live one, else the next one. */
function choose() {
  // Before the list is in, the stream's `initial`s arrive one by one: wait to see them all.
  if (fixedSku || !page.loaded) return;
  if (page.sku && store.get(page.sku)) return;
  const featured = pickFeatured(store.all(), serverNow());
  const sku = featured ? featured.sku : null;
  if (sku !== page.sku) {
    page.sku = sku;
    page.result = null;
    page.retryAt = 0;
    loadMine();
  }
}

function onStoreChange(change) {
  if (change.kind === 'added' || change.kind === 'deleted') {
    if (change.kind === 'deleted' && change.sku === page.sku && !fixedSku) page.sku = null;
    choose();
    if (change.kind === 'added' && change.sku === page.sku && page.mine.status === 'idle') loadMine();
  }
  if (!page.loaded) return;
  if (change.sku === page.sku || change.kind !== 'stock') render();
}

// ---- connection indicator ----------------------------------------------------------------

const MODE_LABELS = { connecting: 'Connecting', live: 'Live', polling: 'Polling', offline: 'Offline' };
const MODE_TITLES = {
  connecting: 'Connecting to the live updates',
  live: 'Stock and state changes arrive as they happen',
  polling: 'Live updates are unavailable: checking every 2 seconds',
  offline: 'The shop cannot be reached: retrying',
};

function showMode(mode) {
  if (mode === 'live' && page.loadFailed) {
    page.loadFailed = false; // the shop answers again: "no sale" is true now, not "unreachable"
    if (page.loaded) render();
  }
  el.conn.dataset.mode = mode;
  el.conn.title = MODE_TITLES[mode];
  setText(el.connLabel, MODE_LABELS[mode]);
}

// ---- rendering -----------------------------------------------------------------------------

function currentSale() {
  return page.sku ? store.get(page.sku) : null;
}

function stateKey(sale, eff) {
  if (!page.loaded) return 'LOADING';
  if (!sale) {
    if (fixedSku) return 'MISSING';
    return page.loadFailed ? 'UNREACHABLE' : 'NONE';
  }
  if (eff.state === 'ENDED') return eff.reason === 'SOLD_OUT' ? 'SOLD_OUT' : 'ENDED';
  return eff.state;
}

function render() {
  const sale = currentSale();
  const now = serverNow();
  const eff = effectiveState(sale, now);
  const key = stateKey(sale, eff);
  page.lastStateKey = key;
  el.sale.dataset.state = key;

  const badge = key === 'LOADING' ? { label: 'Loading', key: 'ENDED' } : stateBadge(eff);
  setText(el.stateBadge, badge.label);
  el.stateBadge.dataset.state = badge.key;
  setText(el.saleSku, sale ? sale.sku : fixedSku || '');

  if (sale) {
    setText(el.productName, sale.productName);
    document.title = `${sale.productName} · Flash sale`;
  }
  switch (key) {
    case 'LOADING':
      setText(el.productName, 'Loading the sale…');
      setText(el.saleNote, '');
      break;
    case 'NONE':
      setText(el.productName, 'No sale right now');
      setText(el.saleNote, 'Nothing is on sale or scheduled. This page updates by itself when a sale is announced.');
      break;
    case 'UNREACHABLE':
      setText(el.productName, 'The shop cannot be reached');
      setText(el.saleNote, 'Retrying every few seconds; this page recovers by itself.');
      break;
    case 'MISSING':
      setText(el.productName, `No sale called ${fixedSku}`);
      setText(el.saleNote, 'It may not be announced yet: this page updates by itself when it is.');
      break;
    case 'UPCOMING':
    case 'ACTIVE':
      setText(el.saleNote, '');
      break;
    case 'SOLD_OUT':
      setText(el.saleNote, 'Every unit has been sold.');
      break;
    case 'ENDED':
      setText(el.saleNote, `This sale ended on ${formatDateTime(sale.endMs)}.`);
      break;
    default:
      break;
  }
  if (!sale) document.title = 'Flash sale';

  el.countdown.hidden = !(key === 'UPCOMING' || key === 'ACTIVE');
  el.stock.hidden = !sale;
  el.buyForm.hidden = !sale || !page.identityLoaded;
  if (key === 'UPCOMING') {
    setText(el.countdownLabel, 'Starts in');
    setText(el.countdownAt, `Opens ${formatDateTime(sale.startMs)} (your time)`);
  } else if (key === 'ACTIVE') {
    setText(el.countdownLabel, 'Ends in');
    setText(el.countdownAt, `Closes ${formatDateTime(sale.endMs)} (your time)`);
  }
  renderCountdown(sale, key, now);
  renderStock(sale, key);
  renderBuy(sale, key, now);
  renderResult();
  renderMine();
  renderOthers();
}

function renderCountdown(sale, key, now) {
  if (key !== 'UPCOMING' && key !== 'ACTIVE') return;
  const target = key === 'UPCOMING' ? sale.startMs : sale.endMs;
  const d = splitDuration(target - now);
  el.cdDaysUnit.hidden = d.days === 0;
  setText(el.cdDays, String(d.days));
  setText(el.cdHours, String(d.hours).padStart(2, '0'));
  setText(el.cdMinutes, String(d.minutes).padStart(2, '0'));
  setText(el.cdSeconds, String(d.seconds).padStart(2, '0'));
  setText(el.countdownSpoken, formatSpoken(target - now));
}

function renderStock(sale, key) {
  if (!sale) return;
  const ratio = sale.initialStock > 0 ? sale.stock / sale.initialStock : 0;
  setText(el.stockCount, formatNumber(sale.stock));
  if (key === 'UPCOMING') {
    setText(el.stockOf, `of ${formatNumber(sale.initialStock)} available at the start`);
    setText(el.stockSold, '');
  } else {
    setText(el.stockOf, `of ${formatNumber(sale.initialStock)} left`);
    setText(el.stockSold, `${formatNumber(sale.initialStock - sale.stock)} sold`);
  }
  el.stockFill.style.transform = `scaleX(${Math.max(0, Math.min(1, ratio))})`;
  el.stock.dataset.level = sale.stock === 0 ? 'out' : ratio <= 0.2 ? 'low' : 'high';

  // The visible count changes as fast as the stream; the announcement is throttled.
  const now = performance.now();
  const stockText =
    sale.stock === 0 ? `Sold out: all ${formatNumber(sale.initialStock)} units sold.` : `${formatNumber(sale.stock)} of ${formatNumber(sale.initialStock)} left.`;
  const urgent = sale.stock === 0 || page.announcedStock === null;
  if (page.announcedStock !== sale.stock && (urgent || now - page.lastAnnounce >= STOCK_ANNOUNCE_MS)) {
    page.announcedStock = sale.stock;
    page.lastAnnounce = now;
    setText(el.stockLive, stockText);
  }
}

function renderBuy(sale, key, now) {
  if (!sale) return;
  const jwt = identity.mode === 'jwt';
  el.buyerHeader.hidden = jwt;
  el.buyerJwt.hidden = !jwt;
  if (jwt) {
    setText(el.buyerJwtText, identity.ready() ? `Buying as ${identity.userId()}` : 'Sign in to buy: one unit per account.');
  }

  let label = 'Buy now';
  let enabled = false;
  const waitMs = page.retryAt - now;
  if (page.buying) {
    label = 'Placing your order…';
  } else if (page.mine.status === 'found') {
    label = 'Purchased';
  } else if (key === 'UPCOMING') {
    label = 'Not open yet';
  } else if (key === 'SOLD_OUT') {
    label = 'Sold out';
  } else if (key === 'ENDED') {
    label = 'Sale ended';
  } else if (waitMs > 0) {
    label = `Try again in ${Math.ceil(waitMs / 1000)} s`;
  } else if (jwt && !identity.ready()) {
    label = 'Sign in to buy';
    enabled = true;
  } else {
    enabled = true;
  }
  setText(el.buyLabel, label);
  el.buySpinner.hidden = !page.buying;
  el.buy.setAttribute('aria-disabled', String(!enabled));
  el.buy.dataset.state = page.buying ? 'busy' : enabled ? 'ready' : 'off';
  el.buy.setAttribute('aria-busy', String(page.buying));
}

/**
 * Runs a few times a second, and just after each whole second of the countdown, so the digits
 * change on time and the sale opens within a few milliseconds of its start.
 */
function tick() {
  const sale = currentSale();
  const now = serverNow();
  const eff = effectiveState(sale, now);
  const key = stateKey(sale, eff);
  let delay = TICK_MS;
  if (sale && (key === 'UPCOMING' || key === 'ACTIVE')) {
    const remaining = (key === 'UPCOMING' ? sale.startMs : sale.endMs) - now;
    delay = Math.min(TICK_MS, (remaining % 1000) + 2);
  }
  setTimeout(tick, delay);
  if (!fixedSku && !sale) choose();
  if (key !== page.lastStateKey) {
    render(); // the clock opened or closed the sale: no reload, no event needed
    return;
  }
  renderCountdown(sale, key, now);
  if (page.retryAt && now >= page.retryAt) {
    page.retryAt = 0;
    if (page.result && (page.result.kind === 'rate-limited' || page.result.kind === 'unavailable')) {
      page.result = { kind: 'retry-ready', tone: 'info', title: 'You can try again now.', detail: '' };
      renderResult();
    }
  }
  if (sale) renderBuy(sale, key, now);
}

// ---- results -------------------------------------------------------------------------------

const TONE_ICONS = { success: 'checkCircle', info: 'info', warning: 'clock', error: 'alert', neutral: 'xCircle' };

function renderResult() {
  const r = page.result;
  el.result.dataset.outcome = r ? r.kind : '';
  const key = r ? `${r.kind}|${r.title}|${r.detail}|${r.purchaseNo || ''}` : '';
  if (el.result.dataset.key === key) return;
  el.result.dataset.key = key;
  if (!r) {
    el.result.replaceChildren();
    return;
  }
  fill(
    el.result,
    h(
      'div',
      { class: 'result-box', dataset: { tone: r.tone } },
      h('span', { class: 'result-icon' }, icon(TONE_ICONS[r.tone] || 'info')),
      h(
        'div',
        { class: 'result-text' },
        h('p', { class: 'result-title' }, r.title),
        r.purchaseNo ? h('p', { class: 'result-order' }, 'Order ', h('strong', { class: 'mono', id: 'result-order-no' }, r.purchaseNo)) : null,
        r.detail ? h('p', { class: 'result-detail' }, r.detail) : null,
        r.retry ? h('button', { type: 'button', class: 'btn btn-sm result-action', onclick: () => buy() }, icon('refresh'), 'Try again') : null,
      ),
    ),
  );
}

function setResult(result, { focus = false } = {}) {
  page.result = result;
  render();
  if (focus) el.result.focus({ preventScroll: false });
}

const capitalize = (text) => (text ? text[0].toUpperCase() + text.slice(1) : text);

async function buy() {
  const sale = currentSale();
  if (!sale || page.buying) return;
  const now = serverNow();
  if (el.buy.getAttribute('aria-disabled') === 'true' && page.retryAt <= now) {
    // Not open, ended, already bought: the label already says why.
    const eff = effectiveState(sale, now);
    if (eff.state === 'UPCOMING') {
      setResult({ kind: 'not-started', tone: 'warning', title: 'The sale has not started yet.', detail: `It opens in ${formatSpoken(sale.startMs - now)}, at ${formatTime(sale.startMs)}.` });
    }
    return;
  }
  if (page.retryAt > now) return;
  if (identity.mode === 'jwt' && !identity.ready()) {
    focusSignIn();
    return;
  }
  if (identity.mode === 'header' && (!identity.ready() || el.buyerName.value.trim() !== identity.name)) {
    if (!commitName() || !identity.ready()) return;
  }

  page.buying = true;
  page.result = { kind: 'pending', tone: 'info', title: 'Placing your order…', detail: '' };
  render();
  const result = await api.buy(sale.sku);
  page.buying = false;
  await interpretPurchase(sale, result);
}

async function interpretPurchase(sale, result) {
  const now = serverNow();
  if (result.ok) {
    const p = result.data;
    page.mine = { status: 'found', purchase: p };
    setResult({ kind: 'success', tone: 'success', title: 'Your order is confirmed.', purchaseNo: p.purchaseNo, detail: `Bought at ${formatTime(p.purchasedAt)}. Keep the order number.` }, { focus: true });
    return;
  }
  const error = result.error;
  switch (error.code) {
    case 'ALREADY_PURCHASED':
      setResult(alreadyBought(error.purchaseNo, null), { focus: true });
      loadMine();
      return;
    case 'SOLD_OUT':
      store.setStock(sale.sku, 0);
      store.setState(sale.sku, 'ENDED', 'SOLD_OUT');
      setResult({ kind: 'sold-out', tone: 'neutral', title: 'Sold out.', detail: 'Every unit has been sold. Better luck next time.' }, { focus: true });
      return;
    case 'SALE_NOT_ACTIVE':
      if (now < sale.endMs - 1000) {
        setResult({ kind: 'not-started', tone: 'warning', title: 'The sale has not started yet.', detail: `It opens at ${formatTime(sale.startMs)}. The button turns on by itself.` }, { focus: true });
      } else {
        setResult({ kind: 'ended', tone: 'neutral', title: 'The sale has ended.', detail: `It closed at ${formatTime(sale.endMs)}.` }, { focus: true });
      }
      return;
    case 'RATE_LIMITED': {
      const wait = Number.isFinite(error.retryAfterMs) ? error.retryAfterMs : 1000;
      page.retryAt = now + wait;
      setResult({ kind: 'rate-limited', tone: 'warning', title: 'Too many attempts.', detail: `Please wait ${formatSpoken(wait)}: you can try again at ${formatTime(page.retryAt)}.` }, { focus: true });
      return;
    }
    case 'UNAUTHORIZED':
      if (identity.mode === 'jwt') {
        identity.signOut();
        renderAccount();
        setResult({ kind: 'signed-out', tone: 'warning', title: 'Your session has ended.', detail: 'Sign in again to buy.' });
        focusSignIn();
        return;
      }
      break;
    case 'VALIDATION_ERROR':
      if (error.field === 'X-User-Id' && identity.mode === 'header') {
        page.result = null;
        nameErrors.show('buyerName', fieldMessage(error));
        el.buyerName.focus();
        render();
        return;
      }
      break;
    case 'NOT_FOUND':
      setResult({ kind: 'not-found', tone: 'neutral', title: 'This sale no longer exists.', detail: '' }, { focus: true });
      return;
    default:
      break;
  }
  if (result.status === 0 || result.status >= 500) {
    await resolveUnknown(sale, result);
    return;
  }
  setResult({ kind: 'error', tone: 'error', title: 'The order was not placed.', detail: capitalize(error.message || 'Unexpected answer.'), retry: true }, { focus: true });
}

function alreadyBought(purchaseNo, purchasedAt) {
  const when = purchasedAt ? `You bought it at ${formatDateTime(purchasedAt)}. ` : '';
  return { kind: 'already-purchased', tone: 'info', title: 'You already bought this.', purchaseNo, detail: `${when}One unit per buyer: your order stands.` };
}

/**
 * A 503 or a lost connection leaves the outcome unknown (the order may have been committed), so
 * the page asks before offering a retry; a retry is safe anyway: it answers ALREADY_PURCHASED.
 */
async function resolveUnknown(sale, failed) {
  const wait = failed.error.retryAfterMs;
  setResult({ kind: 'checking', tone: 'info', title: 'No answer yet: checking your order…', detail: '' });
  const check = await api.myPurchase(sale.sku);
  if (check.ok) {
    page.mine = { status: 'found', purchase: check.data };
    setResult({ kind: 'success', tone: 'success', title: 'Your order is confirmed.', purchaseNo: check.data.purchaseNo, detail: `Bought at ${formatTime(check.data.purchasedAt)}. Keep the order number.` }, { focus: true });
    return;
  }
  if (Number.isFinite(wait) && wait > 0) page.retryAt = serverNow() + wait;
  const notBought = check.status === 404; // the lookup answered: there is no order
  const again = 'Try again; a second try never buys twice.';
  if (!notBought) {
    setResult({ kind: failed.status === 0 ? 'network-error' : 'unavailable', tone: 'error', title: 'No answer from the shop.', detail: `Your order may or may not have gone through. ${again}`, retry: true }, { focus: true });
  } else if (failed.status === 0) {
    setResult({ kind: 'network-error', tone: 'error', title: 'The shop could not be reached.', detail: `Nothing was bought yet. Check your connection. ${again}`, retry: true }, { focus: true });
  } else {
    setResult({ kind: 'unavailable', tone: 'error', title: 'The shop is too busy to answer right now.', detail: `Nothing was bought yet. ${again}`, retry: true }, { focus: true });
  }
}

// ---- my purchase ---------------------------------------------------------------------------

async function loadMine() {
  const token = ++page.mineToken;
  if (!page.sku || !identity.ready()) {
    page.mine = { status: 'idle', purchase: null };
    renderMine();
    return;
  }
  page.mine = { status: 'loading', purchase: null };
  renderMine();
  const result = await api.myPurchase(page.sku);
  if (token !== page.mineToken) return; // the sale or the buyer changed meanwhile
  if (result.ok) {
    page.mine = { status: 'found', purchase: result.data };
    // Coming back to the page: say it where the Buy button was, not only in the side card.
    if (!page.result) page.result = alreadyBought(result.data.purchaseNo, result.data.purchasedAt);
  } else if (result.status === 404) page.mine = { status: 'none', purchase: null };
  else if (result.status === 401 && identity.mode === 'jwt') {
    identity.signOut();
    renderAccount();
    page.mine = { status: 'idle', purchase: null };
  } else page.mine = { status: 'error', purchase: null };
  render();
}

function renderMine() {
  const sale = currentSale();
  const m = page.mine;
  el.mineCard.hidden = !sale;
  const key = `${page.sku}|${m.status}|${m.purchase ? m.purchase.purchaseNo : ''}|${identity.mode}|${identity.userId()}`;
  if (el.mine.dataset.key === key) return;
  el.mine.dataset.key = key;
  el.mine.dataset.status = m.status;
  if (!sale) {
    el.mine.replaceChildren();
  } else if (!identity.ready()) {
    fill(el.mine, h('p', { class: 'muted' }, identity.mode === 'jwt' ? 'Sign in to see whether you bought in this sale.' : 'Enter your name to see whether you bought in this sale.'));
  } else if (m.status === 'loading' || m.status === 'idle') {
    fill(el.mine, h('p', { class: 'muted' }, 'Looking up your order…'));
  } else if (m.status === 'none') {
    fill(el.mine, h('p', { class: 'muted' }, `No order for ${identity.userId()} in this sale yet.`));
  } else if (m.status === 'error') {
    fill(el.mine, h('p', { class: 'muted' }, 'Your order could not be looked up. '), h('button', { type: 'button', class: 'btn btn-sm', onclick: loadMine }, icon('refresh'), 'Retry'));
  } else {
    const p = m.purchase;
    fill(
      el.mine,
      h(
        'div',
        { class: 'receipt' },
        h('span', { class: 'receipt-icon' }, icon('check')),
        h(
          'div',
          {},
          h('p', { class: 'receipt-label' }, 'Order number'),
          h('p', { class: 'receipt-no mono', id: 'mine-order-no' }, p.purchaseNo),
          h('p', { class: 'hint' }, `${sale.productName} · bought ${formatDateTime(p.purchasedAt)} by ${p.userId}`),
        ),
      ),
    );
  }
}

// ---- other sales ---------------------------------------------------------------------------

function renderOthers() {
  const now = serverNow();
  const others = store
    .all()
    .filter((sale) => sale.sku !== page.sku)
    .map((sale) => ({ sale, eff: effectiveState(sale, now) }));
  const rank = { ACTIVE: 0, UPCOMING: 1, ENDED: 2 };
  others.sort((a, b) => rank[a.eff.state] - rank[b.eff.state] || (a.eff.state === 'ENDED' ? b.sale.endMs - a.sale.endMs : a.sale.startMs - b.sale.startMs));
  const shown = others.filter((o, i) => o.eff.state !== 'ENDED' || i < 5).slice(0, 8);
  const rows = shown.map(({ sale, eff }) => {
    const badge = stateBadge(eff);
    const meta =
      eff.state === 'ACTIVE'
        ? `Ends ${formatShortDateTime(sale.endMs)}`
        : eff.state === 'UPCOMING'
          ? `Starts ${formatShortDateTime(sale.startMs)}`
          : `Ended ${formatShortDateTime(sale.endMs)}`;
    return { sku: sale.sku, name: sale.productName, badge, meta };
  });
  const key = JSON.stringify(rows.map((r) => [r.sku, r.name, r.badge.key, r.meta]));
  el.othersCard.hidden = rows.length === 0;
  if (key === page.othersKey) return;
  page.othersKey = key;
  fill(
    el.others,
    rows.map((r) =>
      h(
        'li',
        {},
        h(
          'a',
          { href: `/?sku=${encodeURIComponent(r.sku)}`, class: 'other' },
          h('span', { class: 'other-main' }, h('span', { class: 'other-name' }, r.name), h('span', { class: 'other-meta muted' }, r.meta)),
          h('span', { class: 'badge badge-sm', dataset: { state: r.badge.key } }, r.badge.label),
        ),
      ),
    ),
  );
}

// ---- identity ------------------------------------------------------------------------------

let nameErrors;
let nameTimer = 0;

function commitName() {
  const message = identity.checkName(el.buyerName.value);
  if (message) {
    nameErrors.show('buyerName', message);
    el.buyerName.focus();
    return false;
  }
  nameErrors.clear();
  if (el.buyerName.value.trim() !== identity.name) {
    identity.setName(el.buyerName.value);
    page.result = null;
    loadMine();
  }
  return true;
}

function focusSignIn() {
  const target = el.loginForm.hidden ? el.registerForm.querySelector('input') : el.loginForm.querySelector('input');
  if (target && !el.accountOut.hidden) target.focus();
  else el.account.scrollIntoView({ block: 'nearest' });
}

function setupIdentity() {
  nameErrors = fieldErrors(el.buyForm);
  el.buyerName.value = identity.name;
  el.buyerName.addEventListener('input', () => {
    nameErrors.clear();
    clearTimeout(nameTimer);
    nameTimer = setTimeout(() => {
      if (!identity.checkName(el.buyerName.value)) commitName();
    }, 600);
  });
  el.buyerName.addEventListener('change', () => {
    clearTimeout(nameTimer);
    if (el.buyerName.value.trim()) commitName();
  });
  el.buyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (identity.mode === 'jwt' && !identity.ready()) {
      focusSignIn();
      return;
    }
    buy();
  });

  if (identity.mode !== 'jwt') return;
  el.account.hidden = false;
  const registration = Boolean(page.info && page.info.registration);
  el.accountTabs.hidden = !registration;
  el.noRegistration.hidden = registration;
  if (!registration) setupTokenForm();
  el.tabLogin.addEventListener('click', () => showTab('login'));
  el.tabRegister.addEventListener('click', () => showTab('register'));
  el.loginForm.addEventListener('submit', onLogin);
  el.registerForm.addEventListener('submit', onRegister);
  el.logout.addEventListener('click', () => {
    identity.signOut();
    page.mine = { status: 'idle', purchase: null };
    page.result = null;
    renderAccount();
    render();
    focusSignIn();
  });
  renderAccount();
}

function showTab(which) {
  const login = which === 'login';
  el.tabLogin.setAttribute('aria-pressed', String(login));
  el.tabRegister.setAttribute('aria-pressed', String(!login));
  el.loginForm.hidden = !login;
  el.registerForm.hidden = login;
  (login ? el.loginForm : el.registerForm).querySelector('input').focus();
}

/**
 * Without registration (a server that verifies tokens of another issuer) the page cannot sign
 * anyone in: the buyer pastes a token their identity provider gave them.
 */
function setupTokenForm() {
  const form = el.loginForm;
  form.replaceChildren(
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'login-token' }, 'Access token'),
      h('textarea', { id: 'login-token', name: 'token', class: 'input token-input', rows: '3', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'login-token-hint login-token-error' }),
      h('p', { class: 'hint', id: 'login-token-hint' }, 'Paste the bearer token from your identity provider.'),
      h('p', { class: 'field-error', id: 'login-token-error', 'data-error-for': 'token' }),
    ),
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Use this token'),
  );
  form.dataset.mode = 'token';
}

function decodeTokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return null;
  }
}

function renderAccount() {
  if (identity.mode !== 'jwt') return;
  const signedIn = identity.ready();
  el.accountOut.hidden = signedIn;
  el.accountIn.hidden = !signedIn;
  if (signedIn) {
    setText(el.accountName, identity.userId());
    setText(el.accountExpiry, `Signed in until ${formatShortDateTime(identity.session.expiresAt)}`);
  }
  render();
}

async function onLogin(event) {
  event.preventDefault();
  const form = el.loginForm;
  const errors = fieldErrors(form);
  errors.clear();
  if (form.dataset.mode === 'token') {
    const token = form.elements.namedItem('token').value.trim();
    const claims = decodeTokenClaims(token);
    if (!claims || typeof claims.sub !== 'string' || !claims.sub) {
      errors.show('token', 'This is not a token with a subject (sub).');
      errors.focusFirstInvalid();
      return;
    }
    const expiresAt = Number.isFinite(claims.exp) ? new Date(claims.exp * 1000).toISOString() : new Date(Date.now() + 3600e3).toISOString();
    signedIn({ token, userId: claims.sub, expiresAt });
    return;
  }
  const username = form.elements.namedItem('username').value.trim();
  const password = form.elements.namedItem('password').value;
  if (!username) errors.show('username', 'Enter your username or email.');
  if (!password) errors.show('password', 'Enter your password.');
  if (errors.focusFirstInvalid()) return;
  const button = form.querySelector('button[type=submit]');
  button.setAttribute('aria-busy', 'true');
  const result = await api.login(username, password);
  button.removeAttribute('aria-busy');
  if (result.ok) {
    form.reset();
    signedIn(result.data);
    return;
  }
  showAuthError(errors, result, { UNAUTHORIZED: 'Wrong username or password.' });
}

async function onRegister(event) {
  event.preventDefault();
  const form = el.registerForm;
  const errors = fieldErrors(form);
  errors.clear();
  const fields = {
    username: form.elements.namedItem('username').value.trim(),
    email: form.elements.namedItem('email').value.trim(),
    fullName: form.elements.namedItem('fullName').value.trim(),
    password: form.elements.namedItem('password').value,
  };
  const button = form.querySelector('button[type=submit]');
  button.setAttribute('aria-busy', 'true');
  const created = await api.register(fields);
  if (!created.ok) {
    button.removeAttribute('aria-busy');
    showAuthError(errors, created, {});
    return;
  }
  const login = await api.login(fields.username, fields.password);
  button.removeAttribute('aria-busy');
  if (!login.ok) {
    showAuthError(errors, login, {});
    return;
  }
  form.reset();
  signedIn(login.data);
}

function showAuthError(errors, result, messages) {
  const error = result.error;
  let message = messages[error.code] || fieldMessage(error);
  if (error.code === 'RATE_LIMITED' || result.status === 503) {
    const seconds = Math.max(1, Math.ceil((error.retryAfterMs || 1000) / 1000));
    message = `${result.status === 503 ? 'The server is busy' : 'Too many attempts'}: try again in ${seconds} s.`;
  } else if (result.status === 0) {
    message = 'The shop could not be reached. Check your connection and try again.';
  }
  errors.show(error.field || null, message);
  errors.focusFirstInvalid();
}

function signedIn(session) {
  identity.signIn(session);
  page.result = null;
  renderAccount();
  loadMine();
  el.buy.focus();
}

// ---- footer --------------------------------------------------------------------------------

function renderFooter() {
  const { offsetMs, uncertaintyMs, source } = clockStatus();
  const parts = [];
  if (page.info && page.info.version) parts.push(`flashsale ${page.info.version}`);
  if (source !== 'none') {
    const ahead = -offsetMs;
    const size = Math.abs(ahead) < 1000 ? `${Math.abs(ahead)} ms` : `${(Math.abs(ahead) / 1000).toFixed(1)} s`;
    parts.push(Math.abs(ahead) <= uncertaintyMs ? `Your clock matches the shop's (±${uncertaintyMs} ms)` : `Your clock is ${size} ${ahead > 0 ? 'ahead' : 'behind'}: countdowns use the shop's time`);
  }
  setText(el.footerClock, parts.join(' · '));
}

main();
