// Numbers, durations and times in the visitor's locale and time zone.

const numberFormat = new Intl.NumberFormat();
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const shortDateTimeFormat = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});

export const formatNumber = (n) => (Number.isFinite(n) ? numberFormat.format(n) : '—');

export function formatTime(value) {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? timeFormat.format(ms) : '—';
}

export function formatDateTime(value) {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? dateTimeFormat.format(ms) : '—';
}

const clockTimeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** "18:30" (hours and minutes only). */
export function formatClockTime(value) {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? clockTimeFormat.format(ms) : '—';
}

export function formatShortDateTime(value) {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? shortDateTimeFormat.format(ms) : '—';
}

/** Whole seconds left, split: {days, hours, minutes, seconds, total}. Rounds up, so 0 means now. */
export function splitDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return {
    total,
    days: Math.floor(total / 86400),
    hours: Math.floor((total % 86400) / 3600),
    minutes: Math.floor((total % 3600) / 60),
    seconds: total % 60,
  };
}

const pad = (n) => String(n).padStart(2, '0');

/** "2 days 3 hours", "4 minutes 5 seconds", "5 seconds": for screen readers and sentences. */
export function formatSpoken(ms) {
  const d = splitDuration(ms);
  const parts = [];
  const add = (n, unit) => {
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 's'}`);
  };
  add(d.days, 'day');
  add(d.hours, 'hour');
  if (d.days === 0) add(d.minutes, 'minute');
  if (d.days === 0 && d.hours === 0) add(d.seconds, 'second');
  return parts.length ? parts.slice(0, 2).join(' ') : '0 seconds';
}

/** "in 4m 12s", "in 2h 5m", "in 3d 4h". */
export function formatIn(ms) {
  const d = splitDuration(ms);
  if (d.days > 0) return `${d.days}d ${d.hours}h`;
  if (d.hours > 0) return `${d.hours}h ${d.minutes}m`;
  if (d.minutes > 0) return `${d.minutes}m ${d.seconds}s`;
  return `${d.seconds}s`;
}

/** The UTC offset of this browser, "UTC+01:00". */
export function localZoneLabel(at = Date.now()) {
  const minutes = -new Date(at).getTimezoneOffset();
  const sign = minutes >= 0 ? '+' : '-';
  const abs = Math.abs(minutes);
  return `UTC${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** A <input type="datetime-local" step="1"> value for a time (local zone). */
export function toLocalInput(value) {
  const date = new Date(typeof value === 'number' ? value : Date.parse(value));
  if (Number.isNaN(date.getTime())) return '';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The ISO-8601 UTC time of a datetime-local value, or '' when it is empty or not a time. */
export function fromLocalInput(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}
