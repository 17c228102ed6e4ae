/**
 * The notifier's public surface. Senders never throw for delivery problems: every send returns a
 * {@link SendResult} whose `kind` tells the caller what to do next (mark delivered, retry later,
 * give up, or deactivate the channel). No result ever carries a secret in its `error` text.
 */

import type { MachineStatus } from '../db/schema';

/** The machine as a webhook consumer sees it (CONTRACT §4.1). */
export interface MachineSnapshot {
  id: number;
  name: string;
  hostname: string | null;
  description: string | null;
  status: MachineStatus;
  last_seen: string | null;
}

export interface MachineOfflinePayload {
  event: 'machine.offline';
  event_id: string;
  occurred_at: string;
  machine: MachineSnapshot;
}

export interface MachineOnlinePayload {
  event: 'machine.online';
  event_id: string;
  occurred_at: string;
  machine: MachineSnapshot;
  /** when the machine went offline (ISO-8601 UTC) */
  offline_since: string;
  downtime_seconds: number;
}

export type MachineEventPayload = MachineOfflinePayload | MachineOnlinePayload;

/** What the webhook test endpoint sends: same envelope and signatures, no machine. */
export interface TestPayload {
  event: 'webhook.test';
  event_id: string;
  occurred_at: string;
  message: string;
}

export type SendResult =
  /** 2xx from the webhook / `ok: true` from Telegram. */
  | { kind: 'delivered'; status?: number }
  /** Network error, timeout, 408, 429, 5xx: try again, not before `retryAfterMs` when the server said so. */
  | { kind: 'retryable'; error: string; status?: number; retryAfterMs?: number }
  /** Any other 4xx (and a refused URL): retrying will not help. */
  | { kind: 'permanent'; error: string; status?: number }
  /** The channel is gone for good (webhook 410, Telegram 403 blocked/kicked): deactivate it. */
  | { kind: 'gone'; error: string; status?: number }
  /** Our own configuration is wrong (Telegram 401: bad bot token). Loud, and retried once fixed. */
  | { kind: 'misconfigured'; error: string; status?: number };

export interface WebhookTarget {
  url: string;
  /** `whsec_<base64>` or any other string (used as UTF-8 bytes). */
  secret: string;
}

export interface WebhookSenderOptions {
  /** per-request time limit; default 5 s */
  timeoutMs?: number;
  /** allow `http://` URLs (WEBHOOK_ALLOW_HTTP) */
  allowHttp?: boolean;
  /** allow loopback/private/link-local/unique-local hosts (WEBHOOK_ALLOW_PRIVATE) */
  allowPrivate?: boolean;
  /** `webhook-timestamp` comes from here; default the system clock */
  clock?: import('../clock').Clock;
  /** concurrent connections per origin; default 16 */
  connections?: number;
  /**
   * Resolves a host name to all its addresses; default `node:dns` `lookup({ all: true })`. Used for
   * the connection itself, so the private-address filter applies to the address actually dialled.
   */
  lookup?: HostLookup;
  /** Masks known secrets in returned error texts (the target's own secret is always masked). */
  redactor?: import('../log').Redactor;
  /** how long `close()` lets in-flight requests finish before destroying sockets; default 1 s */
  closeGraceMs?: number;
}

/** A DNS resolver returning every address of `hostname` (like `dns.promises.lookup(h, { all: true })`). */
export type HostLookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export interface WebhookSender {
  /** POSTs `body` (already-serialized compact JSON) with both signatures; `eventId` is the `webhook-id`. */
  send(target: WebhookTarget, eventId: string, body: string, signal?: AbortSignal): Promise<SendResult>;
  /** Closes keep-alive connections (destroys them after a short grace period). */
  close(): Promise<void>;
}

export interface TelegramSenderOptions {
  token: string;
  /** default https://api.telegram.org */
  apiRoot?: string;
  /** per-request time limit; default 10 s */
  timeoutMs?: number;
  /** Masks known secrets in returned error texts (the bot token is always masked). */
  redactor?: import('../log').Redactor;
}

export interface TelegramSender {
  /** `sendMessage` with `parse_mode: HTML`. */
  sendMessage(chatId: number, html: string, signal?: AbortSignal): Promise<SendResult>;
}

/** Outcome of checking a webhook URL against the https / private-address rules. */
export type UrlCheck = { ok: true; url: URL } | { ok: false; code: 'webhook.invalid_url' | 'webhook.insecure_url' | 'webhook.private_address'; error: string };
