import type { MachineEventPayload } from './types';

/** Telegram rejects longer messages ("message is too long"). */
export const TELEGRAM_MESSAGE_LIMIT = 4096;

// Budgets for user-supplied fields, in escaped characters. Their sum plus the fixed text stays well
// under the limit however the fields are filled (every character may escape to six).
const FIELD_BUDGET = { name: 256, hostname: 256, description: 1024 } as const;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** Escapes text for Telegram's HTML parse mode (the four entities it understands). */
export function escapeTelegramHtml(text: string): string {
  return text.replace(/[&<>"]/g, (ch) => ENTITIES[ch]!);
}

/**
 * Escapes `text` and keeps the result within `budget` characters, ending with `…` when cut.
 * Cutting happens between source code points, so neither an entity nor a surrogate pair is split.
 */
function escapeWithin(text: string, budget: number): string {
  let out = '';
  for (const ch of text) {
    const piece = ENTITIES[ch] ?? ch;
    if (out.length + piece.length > budget - 1) return `${out}…`;
    out += piece;
  }
  return out;
}

/** `2026-11-28 03:00:00 UTC` */
function utc(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Downtime for people: `45s`, `2m 15s`, `1h 5m`, `3d 4h 10m`. */
export function formatDowntime(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (days > 0) return `${days}d ${hours}h ${minutes}m`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}

/**
 * The Telegram text of CONTRACT §4.2 in HTML parse mode: 🔴 "Machine Offline" with name, hostname
 * and last seen (UTC), or 🟢 "Machine Back Online" with name, hostname and downtime; the machine's
 * description, when set, closes the message. Every user string is escaped, and each is cut to a
 * fixed budget so the message stays under {@link TELEGRAM_MESSAGE_LIMIT} whatever the user typed.
 */
export function renderTelegramMessage(payload: MachineEventPayload): string {
  const { machine } = payload;
  const lines =
    payload.event === 'machine.offline'
      ? ['🔴 <b>Machine Offline</b>', '']
      : ['🟢 <b>Machine Back Online</b>', ''];
  lines.push(`<b>Machine:</b> ${escapeWithin(machine.name, FIELD_BUDGET.name)}`);
  if (machine.hostname) lines.push(`<b>Hostname:</b> <code>${escapeWithin(machine.hostname, FIELD_BUDGET.hostname)}</code>`);
  if (payload.event === 'machine.offline') {
    lines.push(`<b>Last seen:</b> ${machine.last_seen ? utc(machine.last_seen) : 'never'}`);
  } else {
    lines.push(`<b>Downtime:</b> ${formatDowntime(payload.downtime_seconds)} (offline since ${utc(payload.offline_since)})`);
  }
  if (machine.description) lines.push('', `<i>${escapeWithin(machine.description, FIELD_BUDGET.description)}</i>`);
  return lines.join('\n');
}

/** The text the API's Telegram test endpoint sends. */
export function renderTelegramTestMessage(): string {
  return ['✅ <b>LunaSentri test message</b>', '', 'This chat will receive machine offline and recovery alerts.'].join('\n');
}
