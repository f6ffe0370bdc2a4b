// The operator page (GET /admin): every sale with live counters (sold and remaining from the
// event stream, persisted from a periodic GET /api/v1/products), create / edit / delete with
// the server's validation errors next to their field, the orders of a sale page by page, a CSV
// of all of them, and purchases per second as a chart. The admin key lives in sessionStorage:
// entered once per tab, gone when the tab closes.

import { api, setAdminKey, fieldMessage } from './api.js';
import { startClock, serverNow } from './clock.js';
import { openFeed } from './events.js';
import { SaleStore, effectiveState, stateBadge } from './sales.js';
import { h, fill, setText, icon, hydrateIcons, fieldErrors } from './dom.js';
import { formatNumber, formatDateTime, formatShortDateTime, formatClockTime, formatIn, localZoneLabel, toLocalInput, fromLocalInput } from './format.js';
import { createRateChart } from './chart.js';

const KEY_STORAGE = 'flashsale.adminKey';
const REFRESH_MS = 3000; // persistedPurchases is not in the stream: the list is re-read this often
const FLASH_MS = 2500;

const el = {};
const rows = new Map(); // sku -> {tr, cells}
const store = new SaleStore(onStoreChange);
let chart = null;
let feed = null;
let feedMode = 'connecting';
let refreshTimer = 0;
let started = false;
let info = null;
let flashNew = false; // rows added after the first paint are highlighted for a moment

const orders = { sku: null, cursors: [], after: null, nextCursor: null, loading: false, rows: [] };
let editing = null; // the sale being edited, or null for a new one
let deleting = null;

function bind() {
  for (const node of document.querySelectorAll('[id]')) {
    el[node.id.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = node;
  }
}

// ---- the key -------------------------------------------------------------------------------

function readKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) || '';
  } catch {
    return '';
  }
}

function writeKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled: the key lasts as long as the page */
  }
}

async function main() {
  bind();
  hydrateIcons();
  el.gateForm.addEventListener('submit', onGate);
  el.lock.addEventListener('click', lock);
  startClock().then((data) => {
    info = data;
    renderFooter();
  });
  const key = readKey();
  if (key) {
    setAdminKey(key);
    const result = await api.products();
    if (result.ok) {
      unlock(result.data);
      return;
    }
    writeKey('');
    showGate(gateMessage(result));
    return;
  }
  showGate('');
}

function gateMessage(result) {
  if (result.status === 401) return 'This key was refused by the server.';
  if (result.status === 403) return 'This identity is not an operator.';
  if (result.status === 0) return 'The server could not be reached. Try again.';
  return result.error.message || 'The server refused the request.';
}

function showGate(message) {
  el.app.hidden = true;
  el.lock.hidden = true;
  el.conn.hidden = true;
  el.gate.hidden = false;
  const errors = fieldErrors(el.gateForm);
  errors.clear();
  if (message) errors.show('adminKey', message);
  el.adminKey.focus();
}

async function onGate(event) {
  event.preventDefault();
  const errors = fieldErrors(el.gateForm);
  errors.clear();
  const key = el.adminKey.value.trim();
  if (!key) {
    errors.show('adminKey', 'Enter the admin key.');
    el.adminKey.focus();
    return;
  }
  el.gateSubmit.setAttribute('aria-busy', 'true');
  setAdminKey(key);
  const result = await api.products();
  el.gateSubmit.removeAttribute('aria-busy');
  if (!result.ok) {
    setAdminKey('');
    errors.show('adminKey', gateMessage(result));
    el.adminKey.focus();
    return;
  }
  writeKey(key);
  el.adminKey.value = '';
  unlock(result.data);
}

function lock() {
  writeKey('');
  setAdminKey('');
  location.reload();
}

/** A 401/403 while working: the key was changed on the server. */
function keyRefused(result) {
  if (result.status !== 401 && result.status !== 403) return false;
  writeKey('');
  setAdminKey('');
  if (feed) feed.close();
  clearInterval(refreshTimer);
  started = false;
  flashNew = false;
  showGate(gateMessage(result));
  return true;
}

// ---- the app -------------------------------------------------------------------------------

function unlock(products) {
  el.gate.hidden = true;
  el.app.hidden = false;
  el.lock.hidden = false;
  el.conn.hidden = false;
  if (started) return;
  started = true;
  if (!chart) {
    // Once per page: a key entered again after a refusal reuses the listeners and the chart.
    chart = createRateChart(el.chart);
    setupActions();
    setInterval(tick, 1000);
  }
  store.putList(products, performance.now());
  renderAll();
  flashNew = true;
  feed = openFeed({ poll: pollProducts, onEvent: (event) => store.apply(event), onMode: showMode });
  refreshTimer = setInterval(refresh, REFRESH_MS);
  el.main.focus({ preventScroll: true });
}

async function pollProducts() {
  const result = await api.products();
  if (result.ok) return result.data;
  keyRefused(result);
  return null;
}

async function refresh() {
  if (feedMode !== 'live') return; // while polling, the feed reads the same list already
  const requestedAt = performance.now();
  const result = await api.products();
  if (result.ok) store.putList(result.data, requestedAt);
  else keyRefused(result);
}

const MODE_LABELS = { connecting: 'Connecting', live: 'Live', polling: 'Polling', offline: 'Offline' };

function showMode(mode) {
  feedMode = mode;
  el.conn.dataset.mode = mode;
  el.conn.title = mode === 'live' ? 'Counters move as purchases happen' : mode === 'polling' ? 'Live updates unavailable: reading every 2 seconds' : mode === 'offline' ? 'The server cannot be reached: retrying' : 'Connecting';
  setText(el.connLabel, MODE_LABELS[mode]);
}

function onStoreChange(change) {
  if (change.sold > 0 && change.kind !== 'added' && chart) chart.add(change.sku, change.sold);
  if (!started) return;
  if (change.kind === 'deleted') {
    const row = rows.get(change.sku);
    if (row) row.tr.remove();
    rows.delete(change.sku);
    if (orders.sku === change.sku) closeOrders();
  }
  renderRow(change.sku, change.kind === 'added');
  if (change.kind === 'added' || change.kind === 'deleted' || change.kind === 'replaced') {
    renderOrder();
    renderChartOptions();
  }
  renderStats();
}

function renderAll() {
  for (const sale of store.all()) renderRow(sale.sku, false);
  renderOrder();
  renderChartOptions();
  renderStats();
}

function tick() {
  const now = serverNow();
  for (const [sku, row] of rows) renderTimes(store.get(sku), row, now);
  renderStats();
}

// ---- the sales table -----------------------------------------------------------------------

function createRow(sku) {
  const cells = {
    name: h('span', { class: 'sale-name' }),
    sku: h('span', { class: 'sale-sku mono' }, sku),
    badge: h('span', { class: 'badge badge-sm' }),
    when: h('span', { class: 'when muted small num' }),
    windowStart: h('span', { class: 'window-start small' }),
    windowEnd: h('span', { class: 'window-end small' }),
    sold: h('span', { class: 'num', dataset: { field: 'sold' } }),
    soldFill: h('span', { class: 'mini-fill' }),
    remaining: h('span', { class: 'num', dataset: { field: 'remaining' } }),
    persisted: h('span', { class: 'num', dataset: { field: 'persisted' } }),
    pending: h('span', { class: 'pending small num' }),
    edit: h('button', { type: 'button', class: 'btn btn-sm', 'aria-label': `Edit ${sku}`, onclick: () => openEditor(store.get(sku)) }, icon('edit'), h('span', { class: 'btn-text' }, 'Edit')),
  };
  const tr = h(
    'tr',
    { dataset: { sku } },
    h('th', { scope: 'row', class: 'cell-sale' }, cells.name, cells.sku),
    h('td', { 'data-label': 'State', class: 'cell-state' }, cells.badge, cells.when),
    h('td', { 'data-label': 'Window', class: 'cell-window' }, cells.windowStart, cells.windowEnd),
    h('td', { 'data-label': 'Sold', class: 'right cell-sold' }, cells.sold, h('span', { class: 'mini-bar', 'aria-hidden': 'true' }, cells.soldFill)),
    h('td', { 'data-label': 'Remaining', class: 'right' }, cells.remaining),
    h('td', { 'data-label': 'Persisted', class: 'right' }, cells.persisted, cells.pending),
    h(
      'td',
      { class: 'actions' },
      h('button', { type: 'button', class: 'btn btn-sm', 'aria-label': `Orders of ${sku}`, onclick: () => openOrders(sku) }, icon('list'), h('span', { class: 'btn-text' }, 'Orders')),
      cells.edit,
      h('button', { type: 'button', class: 'btn btn-sm btn-ghost danger-text', 'aria-label': `Delete ${sku}`, onclick: () => openDelete(store.get(sku)) }, icon('trash'), h('span', { class: 'btn-text' }, 'Delete')),
    ),
  );
  return { tr, cells };
}

function renderRow(sku, isNew) {
  const sale = store.get(sku);
  if (!sale) return;
  let row = rows.get(sku);
  if (!row) {
    row = createRow(sku);
    rows.set(sku, row);
    if (isNew && flashNew) {
      row.tr.classList.add('flash');
      setTimeout(() => row.tr.classList.remove('flash'), FLASH_MS);
    }
  }
  const c = row.cells;
  setText(c.name, sale.productName);
  const sold = sale.initialStock - sale.stock;
  setText(c.sold, formatNumber(sold));
  c.soldFill.style.transform = `scaleX(${sale.initialStock > 0 ? sold / sale.initialStock : 0})`;
  setText(c.remaining, formatNumber(sale.stock));
  const persisted = Number.isFinite(sale.persistedPurchases) ? sale.persistedPurchases : null;
  setText(c.persisted, persisted === null ? '—' : formatNumber(persisted));
  const pending = persisted === null ? 0 : sold - persisted;
  setText(c.pending, pending > 0 ? `${formatNumber(pending)} pending` : '');
  c.pending.title = pending > 0 ? 'Acknowledged orders not yet in the relational store' : '';
  setText(c.windowStart, formatShortDateTime(sale.startMs));
  const sameDay = new Date(sale.startMs).toDateString() === new Date(sale.endMs).toDateString();
  setText(c.windowEnd, `to ${sameDay ? formatClockTime(sale.endMs) : formatShortDateTime(sale.endMs)}`);
  row.tr.title = '';
  renderTimes(sale, row, serverNow());
}

function renderTimes(sale, row, now) {
  if (!sale) return;
  const eff = effectiveState(sale, now);
  const badge = stateBadge(eff);
  setText(row.cells.badge, badge.label);
  row.cells.badge.dataset.state = badge.key;
  row.tr.dataset.state = badge.key;
  setText(row.cells.when, eff.state === 'UPCOMING' ? `starts in ${formatIn(sale.startMs - now)}` : eff.state === 'ACTIVE' ? `ends in ${formatIn(sale.endMs - now)}` : '');
  row.cells.edit.hidden = eff.state !== 'UPCOMING';
}

/** Newest window first; rows are only moved when the order changes (focus stays put). */
function renderOrder() {
  const sorted = store.all().sort((a, b) => b.startMs - a.startMs || a.sku.localeCompare(b.sku));
  const wanted = sorted.map((sale) => rows.get(sale.sku)?.tr).filter(Boolean);
  const current = [...el.salesBody.children];
  if (wanted.length !== current.length || wanted.some((tr, i) => tr !== current[i])) {
    const focused = document.activeElement;
    el.salesBody.append(...wanted);
    if (focused && focused !== document.activeElement && document.contains(focused)) focused.focus();
  }
  el.salesEmpty.hidden = sorted.length > 0;
  el.salesTable.hidden = sorted.length === 0;
  setText(el.salesCount, sorted.length ? `${formatNumber(sorted.length)} sale${sorted.length === 1 ? '' : 's'}` : '');
}

function renderStats() {
  const now = serverNow();
  let live = 0;
  let upcoming = 0;
  let sold = 0;
  let persisted = 0;
  let knownPersisted = true;
  for (const sale of store.all()) {
    const { state } = effectiveState(sale, now);
    if (state === 'ACTIVE') live += 1;
    if (state === 'UPCOMING') upcoming += 1;
    sold += sale.initialStock - sale.stock;
    if (Number.isFinite(sale.persistedPurchases)) persisted += sale.persistedPurchases;
    else knownPersisted = false;
  }
  setText(el.statLive, formatNumber(live));
  setText(el.statLiveFoot, `${formatNumber(upcoming)} upcoming`);
  setText(el.statSold, formatNumber(sold));
  setText(el.statSoldFoot, `across ${formatNumber(store.sales.size)} sale${store.sales.size === 1 ? '' : 's'}`);
  setText(el.statPersisted, knownPersisted ? formatNumber(persisted) : '—');
  setText(el.statPersistedFoot, knownPersisted ? (sold - persisted > 0 ? `${formatNumber(sold - persisted)} on their way` : 'all orders stored') : 'not reported by this server');
  if (chart) {
    const stats = chart.stats('');
    setText(el.statRate, formatNumber(stats.last));
    setText(el.statRateFoot, `peak ${formatNumber(stats.peak)} /s in the last minute`);
  }
}

function renderChartOptions() {
  const skus = store.all().map((sale) => sale.sku).sort();
  const current = [...el.chartSku.options].slice(1).map((o) => o.value);
  if (skus.join('\n') === current.join('\n')) return;
  const selected = el.chartSku.value;
  fill(el.chartSku, h('option', { value: '' }, 'All sales'), skus.map((sku) => h('option', { value: sku }, sku)));
  el.chartSku.value = skus.includes(selected) ? selected : '';
  chart.setFilter(el.chartSku.value);
}

// ---- orders --------------------------------------------------------------------------------

function openOrders(sku) {
  orders.sku = sku;
  orders.cursors = [];
  orders.after = null;
  el.orders.hidden = false;
  const sale = store.get(sku);
  setText(el.ordersTitle, `Orders · ${sale ? sale.productName : sku}`);
  loadOrders();
  el.orders.scrollIntoView({ behavior: 'smooth', block: 'start' });
  el.orders.focus({ preventScroll: true });
}

function closeOrders() {
  orders.sku = null;
  el.orders.hidden = true;
}

async function loadOrders() {
  const sku = orders.sku;
  if (!sku) return;
  orders.loading = true;
  renderOrders();
  const limit = Number(el.ordersLimit.value);
  const result = await api.orders(sku, { after: orders.after, limit });
  if (sku !== orders.sku) return;
  orders.loading = false;
  if (!result.ok) {
    if (keyRefused(result)) return;
    orders.rows = [];
    orders.nextCursor = null;
    setText(el.ordersStatus, result.status === 404 ? 'This sale no longer exists.' : `The orders could not be read: ${result.error.message}`);
    renderOrders();
    return;
  }
  orders.rows = result.data;
  orders.nextCursor = result.meta ? result.meta.nextCursor : null;
  renderOrders();
}

function renderOrders() {
  const page = orders.cursors.length + 1;
  const limit = Number(el.ordersLimit.value);
  const first = (page - 1) * limit + 1;
  el.ordersPrev.disabled = orders.loading || orders.cursors.length === 0;
  el.ordersNext.disabled = orders.loading || !orders.nextCursor;
  el.ordersTable.setAttribute('aria-busy', String(orders.loading));
  if (orders.loading) {
    setText(el.ordersStatus, 'Loading…');
    return;
  }
  const sale = store.get(orders.sku);
  const total = sale && Number.isFinite(sale.persistedPurchases) ? ` of ${formatNumber(sale.persistedPurchases)} stored` : '';
  setText(el.ordersStatus, orders.rows.length ? `Orders ${formatNumber(first)}–${formatNumber(first + orders.rows.length - 1)}${total}, oldest first.` : page === 1 ? 'No orders yet.' : 'No more orders.');
  setText(el.ordersPage, `Page ${page}`);
  fill(
    el.ordersBody,
    orders.rows.map((p) =>
      h('tr', {}, h('td', { class: 'mono', 'data-label': 'Order' }, p.purchaseNo), h('td', { 'data-label': 'Buyer', class: 'buyer' }, p.userId), h('td', { class: 'num', 'data-label': 'Bought at' }, formatDateTime(p.purchasedAt))),
    ),
  );
}

async function downloadCsv() {
  const sku = orders.sku;
  if (!sku) return;
  const button = el.ordersCsv;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  setText(el.ordersStatus, 'Preparing the CSV…');
  const result = await api.ordersCsv(sku);
  if (!result.ok) {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (keyRefused(result)) return;
    setText(el.ordersStatus, `The CSV could not be downloaded: ${result.error.message}`);
    return;
  }
  let blob;
  try {
    blob = await result.response.blob();
  } catch {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    setText(el.ordersStatus, 'The download was interrupted. Try again.');
    return;
  }
  const disposition = result.headers.get('Content-Disposition') || '';
  const match = /filename="?([^";]+)"?/i.exec(disposition);
  const name = match ? match[1] : `${sku}-purchases.csv`;
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  const text = await blob.text();
  const lines = text.split('\n').filter((line) => line !== '').length;
  button.disabled = false;
  button.removeAttribute('aria-busy');
  setText(el.ordersStatus, `Saved ${name}: ${formatNumber(Math.max(0, lines - 1))} orders.`);
}

// ---- create, edit, delete ------------------------------------------------------------------

function setupActions() {
  el.newSale.addEventListener('click', () => openEditor(null));
  el.newSaleEmpty.addEventListener('click', () => openEditor(null));
  el.chartSku.addEventListener('change', () => chart.setFilter(el.chartSku.value));
  el.ordersClose.addEventListener('click', closeOrders);
  el.ordersRefresh.addEventListener('click', loadOrders);
  el.ordersCsv.addEventListener('click', downloadCsv);
  el.ordersNext.addEventListener('click', () => {
    if (!orders.nextCursor) return;
    orders.cursors.push(orders.after);
    orders.after = orders.nextCursor;
    loadOrders();
  });
  el.ordersPrev.addEventListener('click', () => {
    if (!orders.cursors.length) return;
    orders.after = orders.cursors.pop();
    loadOrders();
  });
  el.ordersLimit.addEventListener('change', () => {
    orders.cursors = [];
    orders.after = null;
    loadOrders();
  });
  el.saleForm.addEventListener('submit', onSaveSale);
  for (const dialog of [el.saleDialog, el.deleteDialog]) {
    for (const button of dialog.querySelectorAll('[data-close]')) button.addEventListener('click', () => dialog.close());
  }
  for (const chip of el.saleForm.querySelectorAll('[data-start]')) {
    chip.addEventListener('click', () => {
      el.fStart.value = toLocalInput(serverNow() + Number(chip.dataset.start) * 1000);
    });
  }
  for (const chip of el.saleForm.querySelectorAll('[data-length]')) {
    chip.addEventListener('click', () => {
      const start = Date.parse(fromLocalInput(el.fStart.value)) || serverNow();
      el.fEnd.value = toLocalInput(start + Number(chip.dataset.length) * 1000);
    });
  }
  el.deleteConfirm.addEventListener('click', onDelete);
}

function openEditor(sale) {
  editing = sale;
  const form = el.saleForm;
  fieldErrors(form).clear();
  setText(el.saleDialogTitle, sale ? `Edit ${sale.sku}` : 'New sale');
  setText(el.saleSubmit, sale ? 'Save changes' : 'Create sale');
  el.fSku.readOnly = Boolean(sale);
  setText(el.fZone, `Times are in your time zone (${localZoneLabel()}).${sale ? ' Only an upcoming sale can be changed; a new stock resets the remaining units.' : ' A start in the past opens the sale at once.'}`);
  if (sale) {
    el.fSku.value = sale.sku;
    el.fName.value = sale.productName;
    el.fStock.value = String(sale.initialStock);
    el.fStart.value = toLocalInput(sale.startMs);
    el.fEnd.value = toLocalInput(sale.endMs);
  } else {
    form.reset();
    const start = Math.ceil((serverNow() + 5 * 60000) / 60000) * 60000;
    el.fStart.value = toLocalInput(start);
    el.fEnd.value = toLocalInput(start + 3600000);
  }
  el.saleDialog.showModal();
  (sale ? el.fName : el.fSku).focus();
}

/** The form's fields as the API wants them; values the server must judge are sent as typed. */
function readSaleForm() {
  const stockText = el.fStock.value.trim();
  return {
    sku: el.fSku.value.trim(),
    productName: el.fName.value.trim(),
    initialStock: /^-?\d+$/.test(stockText) ? Number(stockText) : stockText,
    startTime: fromLocalInput(el.fStart.value) || el.fStart.value,
    endTime: fromLocalInput(el.fEnd.value) || el.fEnd.value,
  };
}

async function onSaveSale(event) {
  event.preventDefault();
  const form = el.saleForm;
  const errors = fieldErrors(form);
  errors.clear();
  const fields = readSaleForm();
  let result;
  el.saleSubmit.setAttribute('aria-busy', 'true');
  el.saleSubmit.disabled = true;
  if (editing) {
    const changes = {};
    if (fields.productName !== editing.productName) changes.productName = fields.productName;
    if (fields.initialStock !== editing.initialStock) changes.initialStock = fields.initialStock;
    if (fields.startTime !== editing.startTime && Date.parse(fields.startTime) !== editing.startMs) changes.startTime = fields.startTime;
    if (fields.endTime !== editing.endTime && Date.parse(fields.endTime) !== editing.endMs) changes.endTime = fields.endTime;
    result = Object.keys(changes).length ? await api.updateProduct(editing.sku, changes) : { ok: true, data: null };
  } else {
    result = await api.createProduct(fields);
  }
  el.saleSubmit.removeAttribute('aria-busy');
  el.saleSubmit.disabled = false;
  if (result.ok) {
    el.saleDialog.close();
    if (result.data) {
      store.put(result.data);
      toast(editing ? `Saved ${result.data.sku}.` : `Created ${result.data.sku}.`);
    } else {
      toast('Nothing changed.');
    }
    return;
  }
  if (keyRefused(result)) {
    el.saleDialog.close();
    return;
  }
  const error = result.error;
  const messages = {
    SALE_NOT_MODIFIABLE: 'This sale has started or ended: only an upcoming sale can be changed.',
    NOT_FOUND: 'This sale no longer exists.',
  };
  const message = messages[error.code] || (result.status === 0 ? 'The server could not be reached. Try again.' : fieldMessage(error));
  errors.show(error.field || null, message);
  errors.focusFirstInvalid();
}


function openDelete(sale) {
  if (!sale) return;
  deleting = sale;
  const sold = sale.initialStock - sale.stock;
  setText(el.deleteTitle, `Delete ${sale.sku}?`);
  setText(el.deleteText, `“${sale.productName}” and its ${formatNumber(sold)} order${sold === 1 ? '' : 's'} will be removed for good. Order numbers are never reused.`);
  setText(el.deleteError, '');
  el.deleteDialog.showModal();
}

async function onDelete() {
  if (!deleting) return;
  const sku = deleting.sku;
  el.deleteConfirm.disabled = true;
  const result = await api.deleteProduct(sku);
  el.deleteConfirm.disabled = false;
  if (result.ok || result.status === 404) {
    el.deleteDialog.close();
    store.remove(sku);
    toast(`Deleted ${sku}.`);
    return;
  }
  if (keyRefused(result)) {
    el.deleteDialog.close();
    return;
  }
  setText(el.deleteError, result.status === 0 ? 'The server could not be reached. Try again.' : fieldMessage(result.error));
}

// ---- toasts and footer ---------------------------------------------------------------------

function toast(message, kind = 'info') {
  const item = h('div', { class: 'toast', dataset: { kind } }, icon(kind === 'error' ? 'alert' : 'check'), h('span', {}, message));
  el.toasts.append(item);
  setTimeout(() => item.remove(), 4000);
}

function renderFooter() {
  setText(el.footerInfo, info ? `flashsale ${info.version} · auth ${info.authMode}` : '');
}

main();
