// What the pages know of the sales: one record per sku, fed by stream events and by polled
// snapshots, and the state a sale is in *now* on the server's clock.
//
// Why merging is not just "last write wins": a snapshot (GET /api/v1/sales or /products) was
// taken a few milliseconds before it arrives, while stream events keep coming; applied blindly
// it would move a counter back up for a moment. A sale only moves forward while it runs (stock
// goes down, UPCOMING -> ACTIVE -> ENDED), so a snapshot of the same sale never undoes that.
// Only an upcoming sale may be edited (new stock, new times): there the snapshot wins.

const RANK = { UPCOMING: 0, ACTIVE: 1, ENDED: 2 };

function normalize(data) {
  return {
    ...data,
    endReason: data.endReason ?? null,
    startMs: Date.parse(data.startTime),
    endMs: Date.parse(data.endTime),
  };
}

/** {state, reason} of a sale at server time `now`: the clock opens and closes it between events. */
export function effectiveState(sale, now) {
  if (!sale) return { state: 'NONE', reason: null };
  if (sale.state === 'ENDED') return { state: 'ENDED', reason: sale.endReason || (sale.stock === 0 ? 'SOLD_OUT' : 'TIME_EXPIRED') };
  if (sale.stock === 0 && sale.state === 'ACTIVE') return { state: 'ENDED', reason: 'SOLD_OUT' };
  if (now >= sale.endMs) return { state: 'ENDED', reason: 'TIME_EXPIRED' };
  if (sale.state === 'ACTIVE' || now >= sale.startMs) return { state: 'ACTIVE', reason: null };
  return { state: 'UPCOMING', reason: null };
}

/** The badge of a state: {label, key} where key is the CSS data-state. */
export function stateBadge({ state, reason }) {
  if (state === 'ACTIVE') return { label: 'Live now', key: 'ACTIVE' };
  if (state === 'UPCOMING') return { label: 'Upcoming', key: 'UPCOMING' };
  if (state === 'ENDED' && reason === 'SOLD_OUT') return { label: 'Sold out', key: 'SOLD_OUT' };
  if (state === 'ENDED') return { label: 'Ended', key: 'ENDED' };
  return { label: 'No sale', key: 'ENDED' };
}

/**
 * The default sale of the buyer page: the live one (the one ending first if several), else the
 * next to start. null when every sale has ended.
 */
export function pickFeatured(sales, now) {
  let live = null;
  let next = null;
  for (const sale of sales) {
    const { state } = effectiveState(sale, now);
    if (state === 'ACTIVE' && (!live || sale.endMs < live.endMs)) live = sale;
    if (state === 'UPCOMING' && (!next || sale.startMs < next.startMs)) next = sale;
  }
  return live || next;
}

/**
 * new SaleStore(onChange): onChange(change) with change = {kind, sku, sale, previous, sold}
 * kind: 'added' | 'replaced' | 'stock' | 'state' | 'deleted'; `sold` is the number of units
 * that stock went down by (for the purchases-per-second chart).
 */
export class SaleStore {
  constructor(onChange = () => {}) {
    this.sales = new Map();
    this.onChange = onChange;
  }

  get(sku) {
    return this.sales.get(sku) || null;
  }

  all() {
    return [...this.sales.values()];
  }

  /** Applies one stream or feed event. */
  apply(event) {
    const data = event.data;
    if (!data || typeof data.sku !== 'string') return;
    switch (event.type) {
      case 'initial':
        this.put(data, { snapshot: Boolean(event.polled) });
        break;
      case 'stock-update':
        this.setStock(data.sku, data.stock);
        break;
      case 'state-change':
        this.setState(data.sku, data.state, data.reason ?? null);
        break;
      case 'sale-deleted':
        this.remove(data.sku);
        break;
      default:
        break;
    }
  }

  /**
   * A full record. `snapshot` = it comes from a request (may be older than the stream's
   * events); a stream `initial` is the server's current state and replaces.
   */
  put(data, { snapshot = false } = {}) {
    const next = normalize(data);
    const previous = this.sales.get(next.sku);
    if (!previous) {
      next.addedAt = performance.now();
      this.sales.set(next.sku, next);
      this.onChange({ kind: 'added', sku: next.sku, sale: next, previous: null, sold: 0 });
      return;
    }
    next.addedAt = previous.addedAt;
    const sameSale = previous.createdAt && next.createdAt ? previous.createdAt === next.createdAt : previous.startTime === next.startTime;
    const editable = previous.state === 'UPCOMING' && next.state === 'UPCOMING';
    if (snapshot && sameSale && !editable) {
      if (RANK[previous.state] > RANK[next.state]) {
        next.state = previous.state;
        next.endReason = previous.endReason;
      }
      if (previous.initialStock === next.initialStock) next.stock = Math.min(previous.stock, next.stock);
    }
    for (const key of ['createdAt', 'persistedPurchases', 'totalPurchases']) {
      if (next[key] === undefined && previous[key] !== undefined) next[key] = previous[key];
    }
    if (next.currentStock !== undefined) next.currentStock = next.stock;
    if (next.totalPurchases !== undefined) next.totalPurchases = next.initialStock - next.stock;
    this.sales.set(next.sku, next);
    const sold = sameSale && next.initialStock === previous.initialStock ? Math.max(0, previous.stock - next.stock) : 0;
    this.onChange({ kind: 'replaced', sku: next.sku, sale: next, previous, sold });
  }

  setStock(sku, stock) {
    const sale = this.sales.get(sku);
    if (!sale || !Number.isFinite(stock) || stock === sale.stock) return;
    const previous = { ...sale };
    sale.stock = stock;
    if (sale.currentStock !== undefined) sale.currentStock = stock;
    if (sale.totalPurchases !== undefined) sale.totalPurchases = sale.initialStock - stock;
    this.onChange({ kind: 'stock', sku, sale, previous, sold: Math.max(0, previous.stock - stock) });
  }

  setState(sku, state, reason) {
    const sale = this.sales.get(sku);
    if (!sale || !(state in RANK)) return;
    const previous = { ...sale };
    sale.state = state;
    sale.endReason = state === 'ENDED' ? reason || sale.endReason || null : null;
    this.onChange({ kind: 'state', sku, sale, previous, sold: 0 });
  }

  remove(sku) {
    const previous = this.sales.get(sku);
    if (!previous) return;
    this.sales.delete(sku);
    this.onChange({ kind: 'deleted', sku, sale: null, previous, sold: 0 });
  }

  /**
   * A whole list fetched at `requestedAt` (performance.now() when the request left): every sale
   * in it is put as a snapshot, and a sale missing from it is removed unless it arrived after
   * the request left (a stream `initial` of a sale created meanwhile).
   */
  putList(list, requestedAt) {
    const present = new Set();
    for (const data of list) {
      present.add(data.sku);
      this.put(data, { snapshot: true });
    }
    for (const sale of this.all()) {
      if (!present.has(sale.sku) && sale.addedAt < requestedAt) this.remove(sale.sku);
    }
  }
}
