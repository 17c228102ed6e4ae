import type { MachineNotificationPayload } from './quiet-event.types';
import type { MachineSnapshot } from './types';

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
 * Escapes `text` and keeps the result within `budget` characters of HTML, ending with `…` when cut.
 * Cutting happens between source code points, so neither an entity nor a surrogate pair is split;
 * the visible length (entities count 1) is therefore at most `budget` too.
 */
export function escapeTelegramHtmlWithin(text: string, budget: number): string {
  let out = '';
  for (const ch of text) {
    const piece = ENTITIES[ch] ?? ch;
    if (out.length + piece.length > budget - 1) return `${out}…`;
    out += piece;
  }
  return out;
}

/** An ISO-8601 time as people read it in a message: `2026-11-28 03:00:00 UTC`. */
export function formatUtc(iso: string): string {
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
 * The Telegram text of one event in HTML parse mode. CONTRACT §4.2: 🔴 "Machine Offline" with name,
 * hostname and last seen (UTC), or 🟢 "Machine Back Online" with name, hostname and downtime. §6.4:
 * ⏰ "Still Offline" with the downtime and the reminder number. §6.2: 🟡 "Machine Flapping" with the
 * count of changes, and 🔴/🟢 "stopped flapping" when it settles. The machine's description, when
 * set, closes the message. Every user string is escaped, and each is cut to a fixed budget so the
 * message stays under {@link TELEGRAM_MESSAGE_LIMIT} whatever the user typed.
 *
 * An event type this version does not know (written by a newer daemon) still renders, as a
 * neutral ℹ️ notice naming the event, so one unexpected row never blocks a chat's queue.
 */
export function renderTelegramMessage(payload: MachineNotificationPayload): string {
  const { machine } = payload;
  switch (payload.event) {
    case 'machine.offline':
      return machineMessage('🔴 <b>Machine Offline</b>', machine, [lastSeenLine(machine)]);
    case 'machine.online':
      return machineMessage('🟢 <b>Machine Back Online</b>', machine, [
        `<b>Downtime:</b> ${formatDowntime(payload.downtime_seconds)} (offline since ${formatUtc(payload.offline_since)})`,
      ]);
    case 'machine.still_offline':
      return machineMessage('⏰ <b>Still Offline</b>', machine, [
        `<b>Offline for:</b> ${formatDowntime(payload.downtime_seconds)} (since ${formatUtc(payload.offline_since)})`,
        `<b>Reminder:</b> ${payload.reminder}`,
      ]);
    case 'machine.flapping':
      // Tell the reader why the chat will go quiet about this machine: changes are held (§6.2).
      return machineMessage('🟡 <b>Machine Flapping</b>', machine, [
        `<b>Status changes:</b> ${payload.transitions} in ${formatDowntime(payload.window_seconds)}`,
        `<b>Now:</b> ${escapeTelegramHtml(String(machine.status))}`,
        'Further changes are not announced until it keeps one status.',
      ]);
    case 'machine.flapping_ended':
      return machine.status === 'online'
        ? machineMessage('🟢 <b>Online, stopped flapping</b>', machine, ['Alerts for this machine are back to normal.'])
        : machineMessage('🔴 <b>Offline, stopped flapping</b>', machine, [lastSeenLine(machine), 'Alerts for this machine are back to normal.']);
    default:
      return unknownEventMessage(payload);
  }
}

function machineMessage(title: string, machine: MachineSnapshot, details: string[]): string {
  const lines = [title, '', `<b>Machine:</b> ${escapeTelegramHtmlWithin(machine.name, FIELD_BUDGET.name)}`];
  if (machine.hostname) lines.push(`<b>Hostname:</b> <code>${escapeTelegramHtmlWithin(machine.hostname, FIELD_BUDGET.hostname)}</code>`);
  lines.push(...details);
  if (machine.description) lines.push('', `<i>${escapeTelegramHtmlWithin(machine.description, FIELD_BUDGET.description)}</i>`);
  return lines.join('\n');
}

function lastSeenLine(machine: MachineSnapshot): string {
  return `<b>Last seen:</b> ${machine.last_seen ? formatUtc(machine.last_seen) : 'never'}`;
}

/** Nothing about an unknown event's shape is trusted: it may even lack a machine. */
function unknownEventMessage(payload: never): string {
  const loose = payload as { event?: unknown; machine?: Partial<Record<keyof MachineSnapshot, unknown>> | null };
  const lines = ['ℹ️ <b>Machine Notification</b>', '', `<b>Event:</b> <code>${escapeTelegramHtmlWithin(String(loose.event), FIELD_BUDGET.name)}</code>`];
  const machine = typeof loose.machine === 'object' && loose.machine !== null ? loose.machine : null;
  if (machine?.name != null) lines.push(`<b>Machine:</b> ${escapeTelegramHtmlWithin(String(machine.name), FIELD_BUDGET.name)}`);
  if (machine?.hostname) lines.push(`<b>Hostname:</b> <code>${escapeTelegramHtmlWithin(String(machine.hostname), FIELD_BUDGET.hostname)}</code>`);
  return lines.join('\n');
}

/** The text the API's Telegram test endpoint sends. */
export function renderTelegramTestMessage(): string {
  return ['✅ <b>LunaSentri test message</b>', '', 'This chat will receive machine offline and recovery alerts.'].join('\n');
}
