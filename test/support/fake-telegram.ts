import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWaiters } from './webhook-receiver';

/** One `sendMessage` call that reached the fake with the right token. */
export interface TelegramMessage {
  /** 0-based arrival order */
  index: number;
  /** a number when the client sent one (or a numeric string in a form body) */
  chat_id: number | string;
  text: string;
  parse_mode?: string;
  /** the whole decoded request body */
  body: Record<string, unknown>;
  /** the status the fake answered with (`undefined` while hanging) */
  answeredStatus?: number;
}

export interface FakeTelegramResponse {
  /** default 200 */
  status?: number;
  /**
   * The Bot API JSON, e.g. `{ ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' }`.
   * A string is sent as is (as text/html), to play a proxy's error page.
   */
  body: unknown;
}

/** Telegram's sending limits, as the fake enforces them on arrival (CONTRACT §6.1). */
export interface FakeTelegramLimits {
  /** least time between two accepted messages to one chat; default 1000 */
  chatIntervalMs: number;
  /** accepted messages to one group chat (negative id) per rolling minute; default 20 */
  groupPerMinute: number;
  /** accepted messages across all chats per rolling second; default 30 */
  botPerSecond: number;
}

export interface FakeTelegramOptions {
  /** the only bot token accepted; any other gets 404 like the real Bot API */
  token: string;
  /**
   * Enforce Telegram's limits: a message past one is answered 429 with `retry_after` (whole seconds,
   * until the limit allows the next), as the real Bot API does. Off by default.
   */
  limits?: boolean | Partial<FakeTelegramLimits>;
  /** the time arrivals are judged by (ms); default the system clock (tests driving a test clock pass theirs) */
  now?: () => number;
  /** How to answer message number `index`: a response, `'hang'`, or `undefined` for `{ ok: true, result: <message> }`. */
  respond?: (message: TelegramMessage, index: number) => FakeTelegramResponse | 'hang' | undefined | Promise<FakeTelegramResponse | 'hang' | undefined>;
}

export interface FakeTelegram {
  /** `http://127.0.0.1:<port>` — pass as grammY's `apiRoot` / TELEGRAM_API_ROOT */
  apiRoot: string;
  port: number;
  /** every `sendMessage` with the right token, in arrival order */
  messages: TelegramMessage[];
  /** the messages answered 200, with when they arrived by `now` */
  accepted(): Array<TelegramMessage & { at: number }>;
  /** how many were answered 429 because a limit was passed */
  readonly tooManyRequests: number;
  /** Resolves as soon as `predicate(messages)` holds; rejects with what arrived after `timeoutMs` (default 5000). */
  waitFor(predicate: (messages: TelegramMessage[]) => boolean, timeoutMs?: number): Promise<TelegramMessage[]>;
  /** Stops listening and destroys every connection (grammY keeps them alive). */
  close(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

/** The Bot API takes JSON, urlencoded and multipart bodies alike. */
async function decodeBody(request: IncomingMessage, raw: Buffer): Promise<Record<string, unknown>> {
  const type = request.headers['content-type'] ?? '';
  if (raw.length === 0) return {};
  if (type.startsWith('application/json')) return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
    const form = await new Response(raw, { headers: { 'content-type': type } }).formData();
    const out: Record<string, unknown> = {};
    form.forEach((value, key) => {
      out[key] = typeof value === 'string' ? value : '[file]';
    });
    return out;
  }
  throw new Error(`unsupported content-type ${JSON.stringify(type)}`);
}

function chatId(value: unknown): number | string {
  if (typeof value === 'number') return value;
  const text = String(value);
  return /^-?\d+$/.test(text) ? Number(text) : text;
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (typeof body === 'string') {
    response.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    response.end(body);
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

const DEFAULT_LIMITS: FakeTelegramLimits = { chatIntervalMs: 1000, groupPerMinute: 20, botPerSecond: 30 };

/** The limits' referee: when the next message to a chat would be allowed, from the accepted ones. */
function limitReferee(limits: FakeTelegramLimits) {
  const perChat = new Map<string, number[]>();
  const bot: number[] = [];
  return {
    /** ms to wait before this chat may get a message at `now` (0: allowed) */
    wait(chat: number | string, now: number): number {
      const times = perChat.get(String(chat)) ?? [];
      let until = now;
      const last = times[times.length - 1];
      if (last !== undefined) until = Math.max(until, last + limits.chatIntervalMs);
      if (typeof chat === 'number' && chat < 0) {
        const inMinute = times.filter((t) => t > now - 60_000);
        if (inMinute.length >= limits.groupPerMinute) until = Math.max(until, inMinute[inMinute.length - limits.groupPerMinute]! + 60_000);
      }
      const inSecond = bot.filter((t) => t > now - 1000);
      if (inSecond.length >= limits.botPerSecond) until = Math.max(until, inSecond[inSecond.length - limits.botPerSecond]! + 1000);
      return until - now;
    },
    accept(chat: number | string, now: number): void {
      const times = perChat.get(String(chat)) ?? [];
      times.push(now);
      perChat.set(String(chat), times.slice(-limits.groupPerMinute));
      bot.push(now);
      bot.splice(0, Math.max(0, bot.length - limits.botPerSecond));
    },
  };
}

/**
 * A fake Telegram Bot API on 127.0.0.1 (random port) serving `POST /bot<token>/sendMessage`.
 * Always `close()` it in `afterEach`/`afterAll`.
 */
export async function startFakeTelegram(options: FakeTelegramOptions): Promise<FakeTelegram> {
  const messages: TelegramMessage[] = [];
  const arrivals = new Map<TelegramMessage, number>();
  const now = options.now ?? (() => Date.now());
  const referee = options.limits ? limitReferee({ ...DEFAULT_LIMITS, ...(options.limits === true ? {} : options.limits) }) : null;
  let tooManyRequests = 0;
  const waiters = createWaiters('fake Telegram', messages, (m) => `#${m.index} ${m.answeredStatus ?? 'hanging'} chat ${m.chat_id}: ${m.text.slice(0, 60)}`);
  let nextMessageId = 1;

  const server = createServer((request, response) => {
    void (async () => {
      const raw = await readBody(request);
      const match = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(request.url ?? '');
      if (request.method !== 'POST' || !match || match[1] !== options.token || match[2] !== 'sendMessage') {
        send(response, 404, { ok: false, error_code: 404, description: 'Not Found' });
        return;
      }
      const body = await decodeBody(request, raw);
      const message: TelegramMessage = {
        index: messages.length,
        chat_id: chatId(body.chat_id),
        text: String(body.text ?? ''),
        parse_mode: body.parse_mode === undefined ? undefined : String(body.parse_mode),
        body,
      };
      messages.push(message);
      const arrived = now();
      arrivals.set(message, arrived);
      const wait = referee ? referee.wait(message.chat_id, arrived) : 0;
      if (wait > 0) {
        tooManyRequests += 1;
        message.answeredStatus = 429;
        const retryAfter = Math.ceil(wait / 1000);
        send(response, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter } });
        waiters.notify();
        return;
      }
      const reply = await options.respond?.(message, message.index);
      if (reply === 'hang') {
        waiters.notify();
        return;
      }
      const status = reply?.status ?? 200;
      message.answeredStatus = status;
      if (status === 200) referee?.accept(message.chat_id, arrived);
      send(
        response,
        status,
        reply?.body ?? {
          ok: true,
          result: {
            message_id: nextMessageId++,
            date: Math.floor(Date.now() / 1000),
            chat: { id: message.chat_id, type: typeof message.chat_id === 'number' && message.chat_id < 0 ? 'group' : 'private' },
            text: message.text,
          },
        },
      );
      waiters.notify();
    })().catch((error: unknown) => {
      if (!response.headersSent) send(response, 400, { ok: false, error_code: 400, description: `Bad Request: ${(error as Error).message}` });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    port,
    messages,
    accepted: () => messages.filter((m) => m.answeredStatus === 200).map((m) => ({ ...m, at: arrivals.get(m)! })),
    get tooManyRequests() {
      return tooManyRequests;
    },
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
