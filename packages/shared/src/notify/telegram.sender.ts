import type * as Grammy from 'grammy';
import type { Api, GrammyError } from 'grammy';
import type * as Undici from 'undici';
import { attemptDeadline } from './attempt.deadline';
import { createAgentLifecycle } from './http.agent';
import { describeNetworkError, scrub } from './send.results';
import type { SendResult, TelegramSender, TelegramSenderOptions } from './types';

/** A {@link TelegramSender} that owns connections and must be closed. */
export interface TelegramClient extends TelegramSender {
  /** Closes the keep-alive connections to the Bot API (destroying them if a request is stuck). */
  close(): Promise<void>;
}

type FetchInit = { signal?: { aborted: boolean; addEventListener(type: 'abort', listener: () => void): void }; headers?: Record<string, string>; method?: string; body?: unknown };

/**
 * grammY's fetch, routed through our own undici `Agent` so the connections are ours to close (its
 * default node-fetch agent is a process-wide cache nobody closes). grammY's abort signal comes from
 * a polyfill undici does not accept, so it is mirrored onto a native controller.
 */
function fetchThrough(undiciFetch: typeof Undici.fetch, agent: Undici.Agent) {
  return async (url: string, init: FetchInit = {}) => {
    const controller = new AbortController();
    if (init.signal?.aborted) controller.abort();
    else init.signal?.addEventListener('abort', () => controller.abort());
    const headers = { ...init.headers };
    delete headers.connection; // keep-alive is the agent's business; fetch refuses the header
    return undiciFetch(url, { method: init.method, headers, body: init.body as string, signal: controller.signal, dispatcher: agent });
  };
}

/** grammY types its signal as the abort-controller polyfill's; at runtime it only listens for `abort`. */
function grammySignal(signal: AbortSignal): Parameters<Api['sendMessage']>[3] {
  return signal as unknown as Parameters<Api['sendMessage']>[3];
}

/** The Bot API's error classes (CONTRACT §4): what the server said, sorted by what to do next. */
function resultForTelegramError(error: GrammyError): SendResult {
  const status = error.error_code;
  // Not a Bot API answer at all (a proxy, a captive portal): nothing was said about this chat.
  if (typeof status !== 'number') return { kind: 'retryable', error: 'Telegram API unreachable: unexpected response' };
  const text = `Telegram ${status}: ${error.description}`;
  if (status === 408 || status === 429) {
    const retryAfter = error.parameters.retry_after;
    return typeof retryAfter === 'number' ? { kind: 'retryable', error: text, status, retryAfterMs: retryAfter * 1000 } : { kind: 'retryable', error: text, status };
  }
  if (status >= 500) return { kind: 'retryable', error: text, status };
  // Blocked by the user, kicked from the group, user deactivated: this chat will never accept messages.
  if (status === 403) return { kind: 'gone', error: text, status };
  // 401 is a bad token; 404 means the token or TELEGRAM_API_ROOT points nowhere. Both are ours to fix.
  if (status === 401 || status === 404) return { kind: 'misconfigured', error: text, status };
  const migrated = error.parameters.migrate_to_chat_id;
  if (migrated !== undefined) return { kind: 'permanent', error: `${text} (chat migrated to ${migrated})`, status };
  return { kind: 'permanent', error: text, status };
}

/**
 * Creates the Telegram sender: `sendMessage` through grammY's `Api` to `apiRoot` (default
 * `https://api.telegram.org`, trailing slashes dropped), `parse_mode: HTML`, link previews off, at
 * most `timeoutMs` (default 10 s) per call.
 *
 * Results, never exceptions: `ok` → delivered; 429 → retryable with `retry_after`; 5xx, network
 * errors and timeouts → retryable; 403 → gone (bot blocked or kicked); 401/404 → misconfigured (bad
 * token or API root: loud, and pointless to retry until fixed); other 4xx (chat not found, bad HTML)
 * → permanent. grammY puts the request URL — which contains the token — into some errors, so every
 * returned text is scrubbed of the token.
 */
export function createTelegramSender(options: TelegramSenderOptions): TelegramClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const apiRoot = (options.apiRoot ?? 'https://api.telegram.org').replace(/\/+$/, '');
  // Loaded here, not at import: a process without a bot token never holds grammY and its fetch stack.
  const { Api, GrammyError, HttpError } = require('grammy') as typeof Grammy;
  const undici = require('undici') as typeof Undici;
  const agent = new undici.Agent({ connections: 8, keepAliveTimeout: 30_000, connect: { timeout: timeoutMs } });
  const api = new Api(options.token, {
    apiRoot,
    fetch: fetchThrough(undici.fetch, agent) as unknown as NonNullable<ConstructorParameters<typeof Api>[1]>['fetch'],
    // Our own timer decides (and names) timeouts; grammY's is a backstop a little later.
    timeoutSeconds: timeoutMs / 1000 + 1,
  });
  const clean = (text: string) => scrub(text, [options.token, options.token.split(':').slice(1).join(':')], options.redactor);
  const lifecycle = createAgentLifecycle(() => agent, 1000);

  async function sendMessage(chatId: number, html: string, signal?: AbortSignal): Promise<SendResult> {
    if (lifecycle.closing) return { kind: 'retryable', error: 'sender is shutting down' };
    if (signal?.aborted) return { kind: 'retryable', error: 'aborted before sending' };
    const deadline = attemptDeadline(timeoutMs, signal);
    try {
      await lifecycle.track(api.sendMessage(chatId, html, { parse_mode: 'HTML', link_preview_options: { is_disabled: true } }, grammySignal(deadline.signal)));
      return { kind: 'delivered', status: 200 };
    } catch (error) {
      if (error instanceof GrammyError) {
        const result = resultForTelegramError(error);
        return result.kind === 'delivered' ? result : { ...result, error: clean(result.error) };
      }
      const interrupted = deadline.interruption(lifecycle.closing);
      if (interrupted) return interrupted;
      const cause = error instanceof HttpError ? error.error : error;
      if ((cause as { cause?: { code?: string } } | undefined)?.cause?.code === 'ERR_INVALID_URL') {
        return { kind: 'misconfigured', error: 'TELEGRAM_API_ROOT does not form a valid URL' };
      }
      // A body that is not JSON (a proxy's HTML error page) means the Bot API did not answer.
      const reason = cause instanceof SyntaxError ? 'unreadable response' : describeNetworkError(cause);
      return { kind: 'retryable', error: clean(`Telegram API unreachable: ${reason}`) };
    } finally {
      deadline.dispose();
    }
  }

  return {
    sendMessage,
    close: () => lifecycle.close(),
  };
}
