/**
 * An RFC 3339 time as clients send it (`2026-11-28T03:00:00Z`, `2026-11-28T04:00:00.5+01:00`; the
 * seconds may be left out) with its zone required: a time without one means a different instant on
 * every server. Stricter than `Date.parse`, which rolls `02-30` over into March and accepts `24:00`.
 */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  // setUTCFullYear, unlike Date.UTC, takes years 0–99 as they are.
  const date = new Date(0);
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}

/** Epoch milliseconds of `text`, or undefined when it is not such a time (or names no real date). */
export function parseIsoTime(text: string): number | undefined {
  const match = ISO_TIME.exec(text);
  if (!match) return undefined;
  const part = (i: number) => Number(match[i] ?? 0);
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = [1, 2, 3, 4, 5, 6, 7, 8].map(part);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // No leap second (:60): JavaScript time cannot represent one.
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? undefined : ms;
}
