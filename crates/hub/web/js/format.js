// Numbers and times for people: every number with its unit, and a dash (never NaN or
// undefined) when a value is missing.

/** Shown for a missing value. */
export const DASH = '—';

const formats = new Map();

function decimals(digits) {
  if (!formats.has(digits)) {
    formats.set(digits, new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  }
  return formats.get(digits);
}

/** Whether `value` is a number that can be shown. */
export function isNumber(value) {
  return typeof value === 'number' && Number.isFinite(value);
}

/** `value` with `digits` decimals and `unit` (none for a ratio), or a dash. */
export function number(value, digits, unit = '') {
  if (!isNumber(value)) return DASH;
  const text = decimals(digits).format(value);
  return unit ? `${text} ${unit}` : text;
}

/** Power: W below 1 kW, kW above; the sign kept. */
export function power(watts) {
  if (!isNumber(watts)) return DASH;
  return Math.abs(watts) >= 1000 ? number(watts / 1000, 2, 'kW') : number(watts, 0, 'W');
}

/** Energy given in Wh: Wh below 1 kWh, kWh above. */
export function energy(wattHours) {
  if (!isNumber(wattHours)) return DASH;
  if (Math.abs(wattHours) >= 1000) return number(wattHours / 1000, 2, 'kWh');
  return number(wattHours, Math.abs(wattHours) >= 100 ? 0 : 1, 'Wh');
}

/** A date and time, local. */
export function dateTime(ms) {
  return isNumber(ms) ? new Date(ms).toLocaleString() : DASH;
}

/** A time of day, local. */
export function timeOfDay(ms) {
  return isNumber(ms) ? new Date(ms).toLocaleTimeString() : DASH;
}

/** How long ago `ms` was, roughly. */
export function ago(ms) {
  if (!isNumber(ms)) return DASH;
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

/** A wire name (`ready_for_reconnection`) as words. */
export function words(name) {
  if (typeof name !== 'string' || name === '') return DASH;
  const text = name.replaceAll('_', ' ');
  return text[0].toUpperCase() + text.slice(1);
}

/** A meter's presence. */
export function presence(online) {
  if (online === true) return 'Online';
  if (online === false) return 'Offline';
  return 'Never seen';
}

const currencies = new Map();

/** An amount in minor units (`12345`, 2 digits) in its currency (`€123.45`), or a dash. */
export function money(minor, digits, currency) {
  if (!isNumber(minor) || !isNumber(digits) || typeof currency !== 'string') return DASH;
  const key = `${currency}/${digits}`;
  if (!currencies.has(key)) {
    currencies.set(key, new Intl.NumberFormat(undefined, {
      style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
    }));
  }
  return currencies.get(key).format(minor / 10 ** digits);
}

/** A price per kWh given as a decimal text (`"0.250000"`), with 4 decimals and its currency. */
export function pricePerKwh(decimal, currency) {
  const value = typeof decimal === 'string' ? Number(decimal) : decimal;
  if (!isNumber(value) || typeof currency !== 'string') return DASH;
  const text = new Intl.NumberFormat(undefined, {
    style: 'currency', currency, minimumFractionDigits: 4, maximumFractionDigits: 4,
  }).format(value);
  return `${text}/kWh`;
}

/** Energy given in mWh (the hub's registers), in kWh. */
export function kwhFromMwh(milliWattHours) {
  return isNumber(milliWattHours) ? number(milliWattHours / 1e6, 2, 'kWh') : DASH;
}

/** A month `YYYY-MM` in words (`June 2026`). */
export function month(period) {
  const match = typeof period === 'string' ? /^(\d{4})-(\d{2})$/.exec(period) : null;
  if (!match) return DASH;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
  return date.toLocaleDateString(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** An RFC 3339 instant as a local date and time, or a dash. */
export function instant(text) {
  const ms = typeof text === 'string' ? Date.parse(text) : NaN;
  return dateTime(ms);
}

/** The local time of day of an RFC 3339 instant, hours and minutes. */
export function clock(text) {
  const ms = typeof text === 'string' ? Date.parse(text) : NaN;
  return isNumber(ms) ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : DASH;
}

/**
 * The local date of an RFC 3339 instant in `zone` (a bill's time zone); with `endOf`, the
 * date of the instant just before (a period's exclusive end names its last day).
 */
export function dateIn(text, zone, endOf = false) {
  const ms = typeof text === 'string' ? Date.parse(text) : NaN;
  if (!isNumber(ms)) return DASH;
  try {
    return new Date(endOf ? ms - 1 : ms).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric', timeZone: zone });
  } catch {
    return new Date(endOf ? ms - 1 : ms).toLocaleDateString();
  }
}
