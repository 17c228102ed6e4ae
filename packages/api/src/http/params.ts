import { parseIsoTime } from '@lunasentri/shared';
import { ApiError, notFound } from './errors';

const ID = /^[1-9][0-9]{0,14}$/;

/** A path id; anything that is not a positive integer names nothing, so it is a 404 like a missing row. */
export function pathId(params: unknown, area: string, what: string): number {
  const raw = (params as { id?: unknown }).id;
  if (typeof raw !== 'string' || !ID.test(raw)) throw notFound(area, what);
  return Number(raw);
}

const NAME_SHOWN = 64;

/** The last value of a query parameter (`?a=1&a=2` is `2`), or undefined when absent. */
export function queryValue(query: unknown, name: string): string | undefined {
  const raw = (query as Record<string, unknown>)[name];
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return typeof text === 'string' ? text : undefined;
}

/**
 * Refuses query parameters the route does not know: a misspelt filter (`?machine=3`) silently
 * ignored would answer something the client did not ask for.
 */
export function onlyQueryParameters(query: unknown, allowed: readonly string[]): void {
  for (const name of Object.keys(query as Record<string, unknown>)) {
    if (allowed.includes(name)) continue;
    throw new ApiError(400, 'request.invalid_query', `unknown query parameter "${name.slice(0, NAME_SHOWN)}" (this route takes ${allowed.join(', ')})`);
  }
}

/** An optional id query parameter (a positive integer, like a path id). */
export function queryId(query: unknown, name: string): number | undefined {
  if ((query as Record<string, unknown>)[name] === undefined) return undefined;
  const text = queryValue(query, name);
  if (text === undefined || !ID.test(text)) throw new ApiError(400, 'request.invalid_query', `${name} must be a positive whole number`);
  return Number(text);
}

/** An optional integer query parameter within [min, max]. */
export function queryInt(query: unknown, name: string, options: { min: number; max: number; default: number }): number {
  if ((query as Record<string, unknown>)[name] === undefined) return options.default;
  const text = queryValue(query, name);
  const value = text !== undefined && /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(value >= options.min && value <= options.max)) {
    throw new ApiError(400, 'request.invalid_query', `${name} must be a whole number from ${options.min} to ${options.max}`);
  }
  return value;
}

/** An optional time query parameter (RFC 3339 with a zone), as stored text: ISO-8601 UTC with milliseconds. */
export function queryTime(query: unknown, name: string): string | undefined {
  if ((query as Record<string, unknown>)[name] === undefined) return undefined;
  const text = queryValue(query, name);
  const ms = text === undefined ? undefined : parseIsoTime(text);
  if (ms === undefined) throw new ApiError(400, 'request.invalid_query', `${name} must be an ISO-8601 time with a zone, such as 2026-11-28T03:00:00Z`);
  return new Date(ms).toISOString();
}
