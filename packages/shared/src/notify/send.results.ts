import { STATUS_CODES } from 'node:http';
import { formatDuration } from '../config/duration';
import type { Redactor } from '../log';
import { REDACTED } from '../log';
import type { SendResult } from './types';

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`); a date in the past gives 0. `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP-date has a weekday or month name; bare numbers with signs or dots are not valid here.
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** `HTTP 503 Service Unavailable` */
export function httpStatusText(status: number): string {
  const reason = STATUS_CODES[status];
  return reason ? `HTTP ${status} ${reason}` : `HTTP ${status}`;
}

/**
 * The webhook outcome for an HTTP status (CONTRACT §4): 2xx delivered; 408, 429 and 5xx retryable
 * (with `Retry-After`); 410 gone; 3xx permanent, since redirects are never followed (following one
 * could lead a signed request somewhere the URL check never saw); every other status permanent.
 */
export function webhookResultForStatus(status: number, retryAfter: string | string[] | undefined, now: Date): SendResult {
  if (status >= 200 && status <= 299) return { kind: 'delivered', status };
  const error = httpStatusText(status);
  if (status === 408 || status === 429 || (status >= 500 && status <= 599)) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    return retryAfterMs === undefined ? { kind: 'retryable', error, status } : { kind: 'retryable', error, status, retryAfterMs };
  }
  if (status === 410) return { kind: 'gone', error, status };
  if (status >= 300 && status <= 399) return { kind: 'permanent', error: `${error} (redirects are not followed)`, status };
  return { kind: 'permanent', error, status };
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed (temporary)',
  ETIMEDOUT: 'connect timeout',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  UND_ERR_BODY_TIMEOUT: 'response body stalled',
};

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  // fetch wraps the socket error in `cause`; follow a few levels.
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * A short description of a transport failure (`connection refused`, `TLS certificate error
 * (CERT_HAS_EXPIRED)`), built from the error code so no URL or header from the raw message leaks.
 * Falls back to the first line of the message, which callers must still scrub.
 */
export function describeNetworkError(error: unknown): string {
  const code = errorCode(error);
  if (code) {
    const known = NETWORK_CODES[code];
    if (known) return known;
    if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return `TLS certificate error (${code})`;
    if (code.startsWith('ERR_SSL')) return `TLS error (${code})`;
    return `network error (${code})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `network error: ${message.split('\n')[0]!.slice(0, 200)}`;
}

/**
 * Masks every given secret (and its URL-encoded form) and then whatever the shared redactor knows,
 * so a returned error text cannot carry a secret even if a library put one into its message.
 * Values under 6 characters are skipped, as the redactor does, or they would mangle ordinary words.
 */
export function scrub(text: string, secrets: Array<string | undefined>, redactor?: Redactor): string {
  let out = text;
  const values = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6).sort((a, b) => b.length - a.length);
  for (const secret of values) {
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return redactor ? redactor.redact(out) : out;
}

/** `timeout after 5s` / `timeout after 200ms` (Go duration syntax, like every duration we print) */
export function timeoutText(ms: number): string {
  return `timeout after ${formatDuration(ms)}`;
}
