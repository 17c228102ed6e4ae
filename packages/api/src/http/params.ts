import { ApiError, notFound } from './errors';

const ID = /^[1-9][0-9]{0,14}$/;

/** A path id; anything that is not a positive integer names nothing, so it is a 404 like a missing row. */
export function pathId(params: unknown, area: string, what: string): number {
  const raw = (params as { id?: unknown }).id;
  if (typeof raw !== 'string' || !ID.test(raw)) throw notFound(area, what);
  return Number(raw);
}

/** An optional integer query parameter within [min, max]. */
export function queryInt(query: unknown, name: string, options: { min: number; max: number; default: number }): number {
  const raw = (query as Record<string, unknown>)[name];
  if (raw === undefined) return options.default;
  const text = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  const value = typeof text === 'string' && /^[0-9]{1,6}$/.test(text) ? Number(text) : NaN;
  if (!(value >= options.min && value <= options.max)) {
    throw new ApiError(400, 'request.invalid_query', `${name} must be a whole number from ${options.min} to ${options.max}`);
  }
  return value;
}
