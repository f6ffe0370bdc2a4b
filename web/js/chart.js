// A bar chart of purchases per second over the last 60 seconds, drawn as SVG.
// The counts come from the drops in stock the page sees (stream or polling), bucketed by the
// second they arrived in; only the last `seconds` buckets per sale are kept (bounded memory).

import { svg } from './dom.js';
import { formatNumber, formatTime } from './format.js';

const HEIGHT = 180;
const PAD = { top: 14, right: 8, bottom: 24, left: 36 };

/** A round axis maximum: 1, 2, 5, 10, 20, 50 ... at least `value`. */
function niceMax(value) {
  if (value <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function createRateChart(container, { seconds = 60 } = {}) {
  const buckets = new Map(); // sku -> Map(second -> count)
  let filter = '';
  let width = 600;
  let drawQueued = false;

  const root = svg('svg', { class: 'chart-svg', role: 'img', height: HEIGHT });
  const title = svg('title', {});
  root.append(title);
  container.append(root);

  const nowSecond = () => Math.floor(Date.now() / 1000);

  function prune(second) {
    for (const [sku, counts] of buckets) {
      for (const at of counts.keys()) if (at <= second - seconds) counts.delete(at);
      if (counts.size === 0) buckets.delete(sku);
    }
  }

  /** Counts of the last `seconds` seconds, oldest first (the last one is the current second). */
  function series(sku = filter) {
    const now = nowSecond();
    const values = new Array(seconds).fill(0);
    for (const [key, counts] of buckets) {
      if (sku && key !== sku) continue;
      for (const [at, n] of counts) {
        const index = seconds - 1 - (now - at);
        if (index >= 0 && index < seconds) values[index] += n;
      }
    }
    return values;
  }

  function draw() {
    drawQueued = false;
    const measured = container.clientWidth;
    if (measured > 0) width = measured;
    const values = series();
    const peak = Math.max(...values);
    const max = niceMax(peak);
    const plotW = Math.max(10, width - PAD.left - PAD.right);
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const slot = plotW / seconds;
    const barW = Math.max(1, slot * 0.72);

    root.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    root.setAttribute('width', width);
    const parts = [];
    for (const fraction of [0, 0.5, 1]) {
      const y = PAD.top + plotH - fraction * plotH;
      parts.push(svg('line', { class: fraction === 0 ? 'chart-axis' : 'chart-grid', x1: PAD.left, x2: width - PAD.right, y1: y, y2: y }));
      const label = svg('text', { class: 'chart-label', x: PAD.left - 8, y: y + 4, 'text-anchor': 'end' });
      label.textContent = formatNumber(Math.round(max * fraction * 10) / 10);
      parts.push(label);
    }
    const now = nowSecond();
    values.forEach((value, i) => {
      if (value <= 0) return;
      const h = Math.max(2, (value / max) * plotH);
      const rect = svg('rect', {
        class: i === seconds - 1 ? 'chart-bar chart-bar-now' : 'chart-bar',
        x: PAD.left + i * slot + (slot - barW) / 2,
        y: PAD.top + plotH - h,
        width: barW,
        height: h,
        rx: Math.min(3, barW / 2),
      });
      const tip = svg('title', {});
      tip.textContent = `${formatTime((now - (seconds - 1 - i)) * 1000)}: ${formatNumber(value)} purchase${value === 1 ? '' : 's'}`;
      rect.append(tip);
      parts.push(rect);
    });
    for (const [text, x, anchor] of [
      [`${seconds} s ago`, PAD.left, 'start'],
      [`${seconds / 2} s`, PAD.left + plotW / 2, 'middle'],
      ['now', width - PAD.right, 'end'],
    ]) {
      const label = svg('text', { class: 'chart-label', x, y: HEIGHT - 6, 'text-anchor': anchor });
      label.textContent = text;
      parts.push(label);
    }
    const total = values.reduce((a, b) => a + b, 0);
    if (total === 0) {
      const empty = svg('text', { class: 'chart-empty', x: PAD.left + plotW / 2, y: PAD.top + plotH * 0.28, 'text-anchor': 'middle' });
      empty.textContent = 'No purchases in the last minute';
      parts.push(empty);
    }
    root.replaceChildren(title, ...parts);
    const summary = `Purchases per second over the last ${seconds} seconds${filter ? ` for ${filter}` : ''}: ${formatNumber(total)} in all, peak ${formatNumber(peak)} per second, ${formatNumber(values[seconds - 2] || 0)} in the last full second.`;
    title.textContent = summary;
    root.setAttribute('aria-label', summary);
  }

  function queueDraw() {
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(draw);
  }

  setInterval(() => {
    prune(nowSecond());
    queueDraw();
  }, 1000);
  if (typeof ResizeObserver !== 'undefined') new ResizeObserver(queueDraw).observe(container);
  queueDraw();

  return {
    add(sku, count, atMs = Date.now()) {
      if (!(count > 0)) return;
      const second = Math.floor(atMs / 1000);
      if (!buckets.has(sku)) buckets.set(sku, new Map());
      const counts = buckets.get(sku);
      counts.set(second, (counts.get(second) || 0) + count);
      queueDraw();
    },
    setFilter(sku) {
      filter = sku || '';
      queueDraw();
    },
    /** {last, peak, total} over the window for one sale ('' = all; last = the last full second). */
    stats(sku = filter) {
      const values = series(sku);
      return { last: values[seconds - 2] || 0, peak: Math.max(...values), total: values.reduce((a, b) => a + b, 0) };
    },
  };
}
