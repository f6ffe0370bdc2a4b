// Small DOM helpers shared by the pages: an element builder (no innerHTML, so no markup from
// data ever becomes code), inline SVG icons, and field-error wiring for forms.

const SVG_NS = 'http://www.w3.org/2000/svg';

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * h('button', {class: 'btn', onclick: fn, dataset: {sku}}, 'Buy') -> HTMLElement.
 * Attributes: on* are listeners, `dataset` fills data-*, `hidden`/`disabled` etc. are booleans,
 * everything else is setAttribute. Children may be strings, nodes, arrays, null or false.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces every child of el. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Sets text only when it changed (keeps screen readers and layout quiet). */
export function setText(el, text) {
  const value = String(text);
  if (el.textContent !== value) el.textContent = value;
}

// Stroke icons on a 24x24 grid, drawn for this project.
const ICONS = {
  bolt: ['M13 2 4.5 13.5H11L10 22l8.5-11.5H12L13 2Z'],
  check: ['M20 6 9 17l-5-5'],
  checkCircle: ['M22 11.1V12a10 10 0 1 1-5.9-9.1', 'M22 4 12 14 9 11'],
  alert: ['M12 9v4', 'M12 17h.01', 'M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0Z'],
  info: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20Z', 'M12 16v-4', 'M12 8h.01'],
  clock: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20Z', 'M12 6v6l4 2'],
  x: ['M18 6 6 18', 'M6 6l12 12'],
  xCircle: ['M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20Z', 'M15 9l-6 6', 'M9 9l6 6'],
  box: ['M21 8 12 3 3 8v8l9 5 9-5V8Z', 'M3 8l9 5 9-5', 'M12 13v8'],
  user: ['M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2', 'M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8Z'],
  lock: ['M5 11h14v10H5z', 'M8 11V7a4 4 0 0 1 8 0v4'],
  unlock: ['M5 11h14v10H5z', 'M8 11V7a4 4 0 0 1 7.7-1.5'],
  refresh: ['M21 12a9 9 0 0 1-15.5 6.3L3 16', 'M3 12a9 9 0 0 1 15.5-6.3L21 8', 'M21 3v5h-5', 'M3 21v-5h5'],
  plus: ['M12 5v14', 'M5 12h14'],
  edit: ['M12 20h9', 'M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4Z'],
  trash: ['M3 6h18', 'M8 6V4h8v2', 'M19 6l-1 14H6L5 6', 'M10 11v6', 'M14 11v6'],
  download: ['M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4', 'M7 10l5 5 5-5', 'M12 15V3'],
  list: ['M8 6h13', 'M8 12h13', 'M8 18h13', 'M3 6h.01', 'M3 12h.01', 'M3 18h.01'],
  chevronLeft: ['M15 18l-6-6 6-6'],
  chevronRight: ['M9 18l6-6-6-6'],
  chart: ['M3 3v18h18', 'M7 15v2', 'M11 11v6', 'M15 7v10', 'M19 13v4'],
  copy: ['M9 9h11v11H9z', 'M5 15H4V4h11v1'],
  book: ['M4 19.5A2.5 2.5 0 0 1 6.5 17H20V3H6.5A2.5 2.5 0 0 0 4 5.5v14Z', 'M4 19.5A2.5 2.5 0 0 0 6.5 22H20v-5'],
  shield: ['M12 22s8-4 8-10V5l-8-3-8 3v7c0 6 8 10 8 10Z'],
  logout: ['M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4', 'M16 17l5-5-5-5', 'M21 12H9'],
  wifiOff: ['M2 2l20 20', 'M8.5 16.5a5 5 0 0 1 7 0', 'M5 12.9a10 10 0 0 1 4.2-2.4', 'M12 20h.01', 'M16.7 10.9A10 10 0 0 1 19 12.9', 'M1.4 9a15 15 0 0 1 4.7-2.8', 'M10.7 5.1A15 15 0 0 1 22.6 9'],
  tag: ['M20.6 13.4 13.4 20.6a2 2 0 0 1-2.8 0L2 12V2h10l8.6 8.6a2 2 0 0 1 0 2.8Z', 'M7 7h.01'],
  search: ['M11 19a8 8 0 1 0 0-16 8 8 0 0 0 0 16Z', 'M21 21l-4.3-4.3'],
};

/** An aria-hidden SVG icon element. */
export function icon(name, extraClass = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon ${extraClass}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** Fills every <span data-icon="name"> of the page with its icon. */
export function hydrateIcons(root = document) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    if (!el.firstChild) el.append(icon(el.dataset.icon));
  }
}

export function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  return el;
}

/**
 * Field errors of a form: every input with a `name` may have a sibling
 * <p class="field-error" id="<form id>-<name>-error">. show(field, message) marks the input
 * aria-invalid and links the message; clear() resets all of them.
 */
export function fieldErrors(form) {
  const errorOf = (name) => form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  return {
    clear() {
      for (const el of form.querySelectorAll('[data-error-for]')) el.textContent = '';
      for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
      const general = form.querySelector('.form-error');
      if (general) general.textContent = '';
    },
    /** Returns true when the field exists on the form (its message is shown next to it). */
    show(name, message) {
      const input = name ? form.elements.namedItem(name) : null;
      const slot = name ? errorOf(name) : null;
      if (input && slot) {
        slot.textContent = message;
        input.setAttribute('aria-invalid', 'true');
        return true;
      }
      const general = form.querySelector('.form-error');
      if (general) general.textContent = message;
      return false;
    },
    focusFirstInvalid() {
      const el = form.querySelector('[aria-invalid="true"]');
      if (el) el.focus();
      return Boolean(el);
    },
  };
}
