/**
 * Durations in Go's syntax (`time.ParseDuration` / `Duration.String`), because operators carry
 * settings like `MACHINE_OFFLINE_THRESHOLD=2m` over from the Go version unchanged.
 * Values are milliseconds (fractional below 1 ms).
 */

const NS_PER_UNIT: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const COMPONENT = /^(\d*)(?:\.(\d*))?([a-zµμ]+)/;
/** A number with nothing after it: `10`, `1.5`, the `30` of `1h30`. */
const UNITLESS = /^(?:\d+(?:\.\d*)?|\.\d+)$/;

/** `10` is not a duration in Go (only `0` may go without a unit): say how to fix it. */
function missingUnit(text: string, input: string, number: string, whole: boolean): DurationSyntaxError {
  const hint = whole ? `add a unit, e.g. ${input}s` : `add a unit to ${number}, e.g. ${number}s`;
  return new DurationSyntaxError(`missing unit in duration "${text}": ${hint}`);
}

export class DurationSyntaxError extends Error {}

/**
 * Parses a Go duration (`500ms`, `30s`, `2m`, `1h30m`, `1.5s`, `-1m`, `0`) into milliseconds.
 * Throws {@link DurationSyntaxError} on anything else, including the empty string; a number
 * without a unit (`10`; only `0` may go without one, as in Go) is told to add one (`10s`).
 */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw new DurationSyntaxError('empty duration');
  let rest = input;
  let sign = 1;
  if (rest[0] === '-' || rest[0] === '+') {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new DurationSyntaxError(`invalid duration "${text}"`);
  const unsigned = rest;
  let totalNs = 0;
  while (rest !== '') {
    const match = COMPONENT.exec(rest);
    if (!match && UNITLESS.test(rest)) throw missingUnit(text, input, rest, rest === unsigned);
    if (!match) throw new DurationSyntaxError(`invalid duration "${text}"`);
    const [whole, intPart, fracPart, unit] = match;
    if (intPart === '' && (fracPart === undefined || fracPart === '')) {
      throw new DurationSyntaxError(`invalid duration "${text}"`);
    }
    const perUnit = NS_PER_UNIT[unit];
    if (perUnit === undefined) throw new DurationSyntaxError(`unknown unit "${unit}" in duration "${text}"`);
    const value = Number(`${intPart || '0'}.${fracPart || '0'}`);
    totalNs += value * perUnit;
    rest = rest.slice(whole.length);
  }
  if (!Number.isFinite(totalNs) || totalNs > Number.MAX_SAFE_INTEGER) {
    throw new DurationSyntaxError(`duration "${text}" is out of range`);
  }
  return (sign * Math.round(totalNs)) / 1e6;
}

/** Renders `digits` (a non-negative integer count of 10^-prec units) as `int[.frac]`, trailing zeros dropped. */
function withFraction(value: number, prec: number): string {
  const scale = 10 ** prec;
  const whole = Math.floor(value / scale);
  const frac = String(value % scale).padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? String(whole) : `${whole}.${frac}`;
}

/** Formats milliseconds the way Go's `Duration.String` does: `2m0s`, `1h30m0s`, `1.5s`, `500ms`. */
export function formatDuration(ms: number): string {
  const totalNs = Math.round(ms * 1e6);
  if (totalNs === 0) return '0s';
  const sign = totalNs < 0 ? '-' : '';
  const u = Math.abs(totalNs);
  if (u < 1e3) return `${sign}${u}ns`;
  if (u < 1e6) return `${sign}${withFraction(u, 3)}µs`;
  if (u < 1e9) return `${sign}${withFraction(u, 6)}ms`;
  const wholeSeconds = Math.floor(u / 1e9);
  const secondsText = withFraction((wholeSeconds % 60) * 1e9 + (u % 1e9), 9);
  const totalMinutes = Math.floor(wholeSeconds / 60);
  if (totalMinutes === 0) return `${sign}${secondsText}s`;
  const hours = Math.floor(totalMinutes / 60);
  return `${sign}${hours > 0 ? `${hours}h` : ''}${totalMinutes % 60}m${secondsText}s`;
}
