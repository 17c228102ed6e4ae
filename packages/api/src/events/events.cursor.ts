/**
 * Where a page of `GET /events` ended: the sort key of its last event. Events are listed by
 * (occurred_at, created_at, id) descending, a total order (the id is unique), so the next page is
 * everything strictly below this key, and an event written meanwhile never shifts a page.
 */
export interface EventCursor {
  occurredAt: string;
  createdAt: string;
  id: string;
}

/** Far longer than any cursor this API hands out; longer input is not one. */
const CURSOR_MAX = 512;
const PART_MAX = 128;

/** Opaque to clients: base64url of the JSON triple, safe in a query string and a header as is. */
export function encodeEventCursor(cursor: EventCursor): string {
  return Buffer.from(JSON.stringify([cursor.occurredAt, cursor.createdAt, cursor.id]), 'utf8').toString('base64url');
}

/** The cursor `text` encodes, or undefined when it is not one this API handed out. */
export function decodeEventCursor(text: string): EventCursor | undefined {
  if (text.length === 0 || text.length > CURSOR_MAX || !/^[A-Za-z0-9_-]+$/.test(text)) return undefined;
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return undefined; // not JSON: not a cursor
  }
  if (!Array.isArray(parts) || parts.length !== 3) return undefined;
  if (!parts.every((part): part is string => typeof part === 'string' && part.length > 0 && part.length <= PART_MAX)) return undefined;
  const [occurredAt, createdAt, id] = parts;
  return { occurredAt, createdAt, id };
}
