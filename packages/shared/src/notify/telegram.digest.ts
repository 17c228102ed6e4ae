import type { MachineNotificationPayload } from './quiet-event.types';
import { escapeTelegramHtmlWithin, formatDowntime, formatUtc, renderTelegramMessage, TELEGRAM_MESSAGE_LIMIT } from './telegram.messages';
import { telegramVisibleLength } from './telegram.text-length';

/** What a digest needs to know beyond its events. */
export interface TelegramDigestContext {
  /**
   * How many enabled machines the chat's owner has now. With at least 3 machines going offline in
   * the digest and at least half of this number, the digest opens with a common-cause line.
   */
  ownerEnabledMachines: number;
}

/** One Telegram message for several events, and which of them it names. */
export interface TelegramDigest<P extends MachineNotificationPayload = MachineNotificationPayload> {
  /** HTML parse-mode text, at most {@link TELEGRAM_MESSAGE_LIMIT} characters as Telegram counts them */
  text: string;
  /** events with a line of their own, in the order the message shows them */
  listed: P[];
  /** events only counted, in the closing `… and K more` (K = `unlisted.length`) and in the titles */
  unlisted: P[];
}

interface Section {
  emoji: string;
  title: (count: number) => string;
  detail: (payload: MachineNotificationPayload) => string;
}

// Per-line budgets, in escaped characters, smaller than a single message's: a digest is for
// scanning, and shorter lines let more machines be named before the list has to stop.
const FIELD_BUDGET = { name: 96, hostname: 96, event: 64 } as const;

const machines = (count: number) => (count === 1 ? '1 machine' : `${count} machines`);

// Worst news first: what needs someone now (new outages, then outages that go on), then instability,
// then resolutions, good news last. Telegram's preview shows the opening lines, and when the list is
// cut it is the tail that becomes "… and K more", so the least urgent lines are the ones dropped.
// Events of a type this version does not know come after everything, since nothing says how urgent
// they are. A settled flapper is split by its final status so the emoji of its lines matches its title.
const SECTIONS = {
  offline: {
    emoji: '🔴',
    title: (n) => `${machines(n)} offline`,
    detail: (p) => `last seen ${p.machine.last_seen ? formatUtc(p.machine.last_seen) : 'never'}`,
  },
  stillOffline: {
    emoji: '⏰',
    title: (n) => `${machines(n)} still offline`,
    detail: (p) => (p.event === 'machine.still_offline' ? `down ${formatDowntime(p.downtime_seconds)}, reminder ${p.reminder}` : ''),
  },
  flapping: {
    emoji: '🟡',
    title: (n) => `${machines(n)} flapping`,
    detail: (p) => (p.event === 'machine.flapping' ? `${p.transitions} changes in ${formatDowntime(p.window_seconds)}, now ${String(p.machine.status)}` : ''),
  },
  settledOffline: {
    emoji: '🔴',
    title: (n) => `${machines(n)} stopped flapping, offline`,
    detail: (p) => `stopped flapping, last seen ${p.machine.last_seen ? formatUtc(p.machine.last_seen) : 'never'}`,
  },
  settledOnline: {
    emoji: '🟢',
    title: (n) => `${machines(n)} stopped flapping, online`,
    detail: () => 'stopped flapping',
  },
  online: {
    emoji: '🟢',
    title: (n) => `${machines(n)} back online`,
    detail: (p) => (p.event === 'machine.online' ? `down ${formatDowntime(p.downtime_seconds)}` : ''),
  },
  other: {
    emoji: 'ℹ️',
    title: (n) => (n === 1 ? '1 other notification' : `${n} other notifications`),
    detail: (p) => escapeTelegramHtmlWithin(String((p as { event?: unknown }).event), FIELD_BUDGET.event),
  },
} satisfies Record<string, Section>;

type SectionKey = keyof typeof SECTIONS;
const SECTION_ORDER = Object.keys(SECTIONS) as SectionKey[];

function sectionOf(payload: MachineNotificationPayload): SectionKey {
  switch (payload.event) {
    case 'machine.offline':
      return 'offline';
    case 'machine.still_offline':
      return 'stillOffline';
    case 'machine.flapping':
      return 'flapping';
    case 'machine.flapping_ended':
      return payload.machine.status === 'online' ? 'settledOnline' : 'settledOffline';
    case 'machine.online':
      return 'online';
    default:
      return 'other';
  }
}

/**
 * A machine line carries no tags: Telegram ignores formatting past its 100th entity, so bold names
 * in a long list would go plain part-way down. Only the few titles are bold.
 */
function lineOf(section: Section, payload: MachineNotificationPayload): string {
  const machine = (payload as { machine?: { name?: unknown; hostname?: unknown } | null }).machine ?? {};
  const name = escapeTelegramHtmlWithin(String(machine.name ?? 'unknown machine'), FIELD_BUDGET.name);
  const host = machine.hostname ? ` (${escapeTelegramHtmlWithin(String(machine.hostname), FIELD_BUDGET.hostname)})` : '';
  const detail = section.detail(payload);
  return `${section.emoji} ${name}${host}${detail ? ` — ${detail}` : ''}`;
}

function commonCauseLine(events: readonly MachineNotificationPayload[], ownerEnabledMachines: number): string | null {
  const offline = new Set(events.filter((e) => e.event === 'machine.offline').map((e) => e.machine.id)).size;
  // The owner's count is read apart from the events and may lag them (a machine disabled since):
  // never claim "5 of 3".
  const of = Math.max(ownerEnabledMachines, offline);
  if (offline < 3 || offline * 2 < of) return null;
  return `⚠️ ${offline} of ${of} machines went offline together: this looks like a network or site problem, not ${offline} separate failures.`;
}

const moreLine = (count: number) => `… and ${count} more`;

/**
 * Plans one Telegram message for `events` going to one chat (CONTRACT §6.1). One event gives
 * exactly {@link renderTelegramMessage}. Several give an optional common-cause line, one bold count
 * title per kind present (offline, still offline, flapping, stopped flapping, back online, then
 * unknown kinds), a blank line, and one plain line per event in that order (input order within a
 * kind). The titles always count every event; the list stops before the text would pass
 * {@link TELEGRAM_MESSAGE_LIMIT} as {@link telegramVisibleLength} counts it, and then ends with
 * `… and K more`. Lines are whole, so a cut never splits an entity or a surrogate pair.
 *
 * The caller delivers every event by this one message (listed or not), so all their delivery rows
 * are settled together. Each payload makes one line; pass each event once.
 *
 * @throws RangeError for an empty list: there is no message to send.
 */
export function planTelegramDigest<P extends MachineNotificationPayload>(events: readonly P[], context: TelegramDigestContext): TelegramDigest<P> {
  if (events.length === 0) throw new RangeError('planTelegramDigest: no events to render');
  if (events.length === 1) return { text: renderTelegramMessage(events[0]!), listed: [events[0]!], unlisted: [] };

  const bySection = new Map<SectionKey, P[]>(SECTION_ORDER.map((key) => [key, []]));
  for (const event of events) bySection.get(sectionOf(event))!.push(event);
  const ordered = SECTION_ORDER.flatMap((key) => bySection.get(key)!.map((event) => ({ key, event })));

  // Every title comes first, as a summary, rather than each above its own lines: when the list is
  // cut, a kind whose lines all fall in the tail keeps its count, and the chat's preview shows them all.
  const head: string[] = [];
  const cause = commonCauseLine(events, context.ownerEnabledMachines);
  if (cause) head.push(cause, '');
  for (const key of SECTION_ORDER) {
    const count = bySection.get(key)!.length;
    if (count > 0) head.push(`${SECTIONS[key].emoji} <b>${SECTIONS[key].title(count)}</b>`);
  }
  head.push('');

  const lines = [...head];
  let used = telegramVisibleLength(head.join('\n'));
  let listedCount = 0;
  for (const { key, event } of ordered) {
    const line = lineOf(SECTIONS[key], event);
    const cost = 1 + telegramVisibleLength(line);
    // Invariant: after each listed line there is room to close with "… and K more" for the K left,
    // so stopping at any later line always fits. The last line needs no closing line.
    const left = ordered.length - listedCount - 1;
    const closing = left === 0 ? 0 : 1 + telegramVisibleLength(moreLine(left));
    if (used + cost + closing > TELEGRAM_MESSAGE_LIMIT) break;
    lines.push(line);
    used += cost;
    listedCount += 1;
  }

  const listed = ordered.slice(0, listedCount).map((entry) => entry.event);
  const unlisted = ordered.slice(listedCount).map((entry) => entry.event);
  if (unlisted.length > 0) lines.push(moreLine(unlisted.length));
  return { text: lines.join('\n'), listed, unlisted };
}

/**
 * The HTML text of {@link planTelegramDigest}: one message for one chat, whatever the number of
 * events (at least one).
 */
export function renderTelegramDigest(events: readonly MachineNotificationPayload[], context: TelegramDigestContext): string {
  return planTelegramDigest(events, context).text;
}
