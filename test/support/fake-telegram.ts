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

export interface FakeTelegramOptions {
  /** the only bot token accepted; any other gets 404 like the real Bot API */
  token: string;
  /** How to answer message number `index`: a response, `'hang'`, or `undefined` for `{ ok: true, result: <message> }`. */
  respond?: (message: TelegramMessage, index: number) => FakeTelegramResponse | 'hang' | undefined | Promise<FakeTelegramResponse | 'hang' | undefined>;
}

export interface FakeTelegram {
  /** `http://127.0.0.1:<port>` — pass as grammY's `apiRoot` / TELEGRAM_API_ROOT */
  apiRoot: string;
  port: number;
  /** every `sendMessage` with the right token, in arrival order */
  messages: TelegramMessage[];
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

/**
 * A fake Telegram Bot API on 127.0.0.1 (random port) serving `POST /bot<token>/sendMessage`.
 * Always `close()` it in `afterEach`/`afterAll`.
 */
export async function startFakeTelegram(options: FakeTelegramOptions): Promise<FakeTelegram> {
  const messages: TelegramMessage[] = [];
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
      const reply = await options.respond?.(message, message.index);
      if (reply === 'hang') {
        waiters.notify();
        return;
      }
      const status = reply?.status ?? 200;
      message.answeredStatus = status;
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
