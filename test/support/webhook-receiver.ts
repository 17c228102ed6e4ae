import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request as the receiver saw it. */
export interface ReceivedWebhook {
  /** 0-based arrival order. */
  index: number;
  method: string;
  /** path and query as requested */
  path: string;
  /** lower-cased header names, as node:http gives them */
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** the parsed body, or `undefined` when it is not JSON */
  json: unknown;
  /** true only when BOTH the `standardwebhooks` library and a hand-computed `X-Webhook-Signature` accept the request */
  verified: boolean;
  /** why `verified` is false (each failed check), for readable test failures */
  verifyErrors: string[];
  /** the status the receiver answered with (`undefined` while hanging) */
  answeredStatus?: number;
}

export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  /** a string is sent as is; anything else as JSON */
  body?: unknown;
}

export interface WebhookReceiverOptions {
  /** the webhook's secret, `whsec_<base64>` or any other string */
  secret: string;
  /**
   * How to answer request number `index`: a response, `'hang'` (never answers; `close()` cuts it),
   * or `undefined` for the default `200 {"ok":true}`.
   */
  respond?: (request: ReceivedWebhook, index: number) => WebhookResponse | 'hang' | undefined | Promise<WebhookResponse | 'hang' | undefined>;
  /**
   * "Now" for the Standard Webhooks timestamp tolerance (±5 min). Pass `() => clock.now()` when the
   * sender signs with a TestClock, otherwise the library rejects its `webhook-timestamp` as too old/new.
   */
  now?: () => Date;
  /** request path in `url`; default `/webhook` */
  path?: string;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/webhook` */
  url: string;
  port: number;
  /** every request so far, in arrival order */
  received: ReceivedWebhook[];
  /**
   * Resolves (with `received`) as soon as `predicate(received)` holds — checked now and on every
   * arrival; rejects with a descriptive error after `timeoutMs` (default 5000).
   */
  waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  /** Stops listening and destroys every open connection, hanging ones included. */
  close(): Promise<void>;
}

/**
 * Event-driven waits over a growing list (shared with the fake Telegram server): a predicate is
 * re-checked on every `notify()`, never polled, and a miss rejects with what did arrive.
 */
export function createWaiters<T>(name: string, items: T[], describe: (item: T) => string) {
  const waiters = new Set<{ check: () => void; fail: (error: Error) => void }>();
  return {
    notify(): void {
      for (const waiter of [...waiters]) waiter.check();
    },
    failAll(reason: string): void {
      for (const waiter of [...waiters]) waiter.fail(new Error(`${name}: ${reason}`));
    },
    waitFor(predicate: (items: T[]) => boolean, timeoutMs: number): Promise<T[]> {
      return new Promise((resolve, reject) => {
        const settle = (error?: Error) => {
          waiters.delete(waiter);
          clearTimeout(timer);
          if (error) reject(error);
          else resolve(items);
        };
        const waiter = {
          check() {
            try {
              if (predicate(items)) settle();
            } catch (error) {
              settle(error as Error);
            }
          },
          fail: (error: Error) => settle(error),
        };
        const timer = setTimeout(() => {
          const seen = items.map(describe);
          settle(new Error(`${name}: condition not met within ${timeoutMs}ms; ${items.length} request(s) received${seen.length > 0 ? `: ${seen.join('; ')}` : ''}`));
        }, timeoutMs);
        waiters.add(waiter);
        waiter.check();
      });
    },
  };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    const value = headerValue(headers, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Runs `fn` with `Date.now` pinned, because `standardwebhooks` reads the wall clock for its tolerance check. */
function withNow<T>(now: (() => Date) | undefined, fn: () => T): T {
  if (!now) return fn();
  const realNow = Date.now;
  Date.now = () => now().getTime();
  try {
    return fn();
  } finally {
    Date.now = realNow;
  }
}

function verify(secret: string, rawBody: string, headers: IncomingHttpHeaders, now: (() => Date) | undefined): string[] {
  const errors: string[] = [];
  // The library base64-decodes whatever it gets (after an optional whsec_ prefix); handing it the
  // base64 of a plain secret's bytes makes it key with those bytes, as CONTRACT §4.1 says we do.
  const librarySecret = secret.startsWith('whsec_') ? secret : Buffer.from(secret, 'utf8').toString('base64');
  try {
    withNow(now, () => new Webhook(librarySecret).verify(rawBody, flatHeaders(headers), { jsonParse: false }));
  } catch (error) {
    errors.push(`standardwebhooks: ${(error as Error).message}`);
  }
  const given = headerValue(headers, 'x-webhook-signature') ?? '';
  const expected = `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(rawBody, 'utf8').digest('hex')}`;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length || !timingSafeEqual(a, b)) errors.push(`X-Webhook-Signature: got ${given === '' ? 'none' : JSON.stringify(given)}`);
  return errors;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function answer(response: ServerResponse, reply: WebhookResponse): void {
  const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
  const headers: Record<string, string> = { ...(reply.body !== undefined && typeof reply.body !== 'string' ? { 'content-type': 'application/json' } : {}), ...reply.headers };
  response.writeHead(reply.status, headers);
  response.end(body);
}

/**
 * A real webhook consumer on 127.0.0.1 (random port) that records and verifies every delivery.
 * Always `close()` it in `afterEach`/`afterAll`.
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const waiters = createWaiters('webhook receiver', received, (r) =>
    `#${r.index} ${r.answeredStatus ?? 'hanging'} ${String((r.json as { event?: string } | undefined)?.event ?? r.rawBody.slice(0, 60))}`,
  );

  const server = createServer((request, response) => {
    void (async () => {
      const rawBody = await readBody(request);
      let json: unknown;
      try {
        json = JSON.parse(rawBody);
      } catch {
        json = undefined;
      }
      const verifyErrors = verify(options.secret, rawBody, request.headers, options.now);
      const record: ReceivedWebhook = {
        index: received.length,
        method: request.method ?? '',
        path: request.url ?? '',
        headers: request.headers,
        rawBody,
        json,
        verified: verifyErrors.length === 0,
        verifyErrors,
      };
      received.push(record);
      const reply = (await options.respond?.(record, record.index)) ?? { status: 200, body: { ok: true } };
      if (reply !== 'hang') {
        record.answeredStatus = reply.status;
        answer(response, reply);
      }
      waiters.notify();
    })().catch((error: unknown) => {
      if (!response.headersSent) answer(response, { status: 500, body: `receiver error: ${(error as Error).message}` });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}${options.path ?? '/webhook'}`,
    port,
    received,
    waitFor: (predicate, timeoutMs = 5000) => waiters.waitFor(predicate, timeoutMs),
    close() {
      waiters.failAll('closed while waiting');
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
