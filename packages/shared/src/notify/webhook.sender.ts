import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as Undici from 'undici';
import { systemClock } from '../clock';
import { attemptDeadline } from './attempt.deadline';
import { createAgentLifecycle } from './http.agent';
import { describeNetworkError, scrub, webhookResultForStatus } from './send.results';
import type { SendResult, WebhookSender, WebhookSenderOptions, WebhookTarget } from './types';
import { checkWebhookUrlSyntax, connectLookup, systemLookup } from './url.guard';
import { signWebhook, validateWebhookSecret } from './webhook.signature';

/** The version of `@lunasentri/shared`, for `User-Agent`. Same relative path from `src/` and `dist/`. */
export function notifierVersion(): string {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
  return manifest.version ?? '0.0.0';
}

const MAX_RESPONSE_BODY = 64 * 1024;

/**
 * Creates the webhook sender: POSTs over one keep-alive undici `Agent` (at most `connections` per
 * origin, default 16) with `Content-Type: application/json`, `User-Agent: LunaSentri-Webhook/<version>`
 * and both signatures of CONTRACT §4.1.
 *
 * - Each attempt has `timeoutMs` (default 5000) for everything: connect, headers and body.
 * - Redirects are never followed; a 3xx is `permanent`.
 * - The URL rules are re-applied on every send, and for host names on the address the socket
 *   actually connects to (a custom `connect.lookup`), so DNS rebinding to a private address fails.
 * - Results, never exceptions: see {@link webhookResultForStatus}; network errors and timeouts are
 *   `retryable`, a refused URL or an unusable secret `permanent`, a caller abort `retryable`.
 * - `error` texts are short (`HTTP 503 Service Unavailable`, `timeout after 5s`, `connection refused`)
 *   and never contain the secret or the URL.
 */
export function createWebhookSender(options: WebhookSenderOptions = {}): WebhookSender {
  const timeoutMs = options.timeoutMs ?? 5000;
  const clock = options.clock ?? systemClock;
  const allowHttp = options.allowHttp ?? false;
  const allowPrivate = options.allowPrivate ?? false;
  const closeGraceMs = options.closeGraceMs ?? 1000;
  const userAgent = `LunaSentri-Webhook/${notifierVersion()}`;
  // Made on the first send: undici (a hundred modules, several MB) is not loaded by a process that
  // never sends, such as an API nobody asks for a test delivery.
  let agent: Undici.Agent | undefined;
  const agentForSend = () =>
    (agent ??= new (require('undici') as typeof Undici).Agent({
      connections: options.connections ?? 16,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: timeoutMs, lookup: connectLookup(options.lookup ?? systemLookup, allowPrivate) },
    }));
  const lifecycle = createAgentLifecycle(() => agent, closeGraceMs);

  async function send(target: WebhookTarget, eventId: string, body: string, signal?: AbortSignal): Promise<SendResult> {
    const clean = (text: string) => scrub(text, [target.secret, target.url, safeSearch(target.url)], options.redactor);
    if (lifecycle.closing) return { kind: 'retryable', error: 'sender is shutting down' };
    const check = checkWebhookUrlSyntax(target.url, { allowHttp, allowPrivate });
    if (!check.ok) return { kind: 'permanent', error: clean(check.error) };
    const secretCheck = validateWebhookSecret(target.secret);
    if (!secretCheck.ok) return { kind: 'permanent', error: secretCheck.error };
    if (signal?.aborted) return { kind: 'retryable', error: 'aborted before sending' };

    const signature = signWebhook({ secret: target.secret, eventId, timestampSeconds: Math.floor(clock.now().getTime() / 1000), body });
    const deadline = attemptDeadline(timeoutMs, signal);
    try {
      const { origin, pathname, search } = check.url;
      const response = await lifecycle.track(
        agentForSend().request({
          origin,
          path: `${pathname}${search}`,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': userAgent, ...signature },
          body,
          signal: deadline.signal,
        }),
      );
      // The body is read (bounded) only so the connection can go back to the pool.
      await response.body.dump({ limit: MAX_RESPONSE_BODY }).catch(() => undefined);
      return webhookResultForStatus(response.statusCode, response.headers['retry-after'], clock.now());
    } catch (error) {
      const interrupted = deadline.interruption(lifecycle.closing);
      if (interrupted) return interrupted;
      if ((error as { code?: string }).code === 'LUNASENTRI_PRIVATE_ADDRESS') return { kind: 'permanent', error: clean((error as Error).message) };
      return { kind: 'retryable', error: clean(describeNetworkError(error)) };
    } finally {
      deadline.dispose();
    }
  }

  return { send, close: () => lifecycle.close() };
}

/** The query string alone, so it is masked even where the full URL is not repeated. */
function safeSearch(url: string): string | undefined {
  try {
    const search = new URL(url).search;
    return search.length > 1 ? search : undefined;
  } catch {
    return undefined;
  }
}
