import { DurationSyntaxError, formatDuration, parseDuration } from '../config/duration';
import { MINUTE_MS, toMs, type Instant } from './instant';
import { QuietInputError } from './quiet.errors';

/**
 * Reminders (CONTRACT §6.4): `machine.still_offline` every `remind_every` after an outage was
 * announced, at most `remind_max` times. Reminders sit on a grid, `announcedAt + k × every`.
 *
 * Stored state, beside the outage's announcement (the §3 dedup row, which exists exactly while an
 * announced outage lasts): the announcement time, how many reminders went out, and the next due
 * time. Storing the due time is what makes a restart neither skip nor repeat one, as long as the
 * daemon updates it in the transaction that writes the reminder event.
 */

/** `remind_every` when unset: reminders off. */
export const REMIND_EVERY_DEFAULT_MS = 0;
/** The shortest `remind_every` other than off: a reminder more often is an alarm, not a reminder. */
export const REMIND_EVERY_MIN_MS = 5 * MINUTE_MS;
/** `remind_max` when unset. */
export const REMIND_MAX_DEFAULT = 3;
/** The most reminders one outage may get. */
export const REMIND_MAX_LIMIT = 100;

/** A user's reminder preferences, parsed. */
export interface ReminderPolicy {
  /** `0` = off. */
  everyMs: number;
  /** Reminders per outage, 1–100. */
  max: number;
}

/** What is stored per announced outage. */
export interface ReminderState {
  /** When the outage was announced (`machine.offline`, or `machine.flapping_ended` offline), ISO. */
  announcedAt: string;
  /** Reminders sent for this outage so far. */
  sent: number;
  /** When the next one is due (ISO), `null` when none will be. */
  nextDueAt: string | null;
}

/**
 * The first grid point strictly after `after` (`announcedAt + k × every`, k ≥ 1), or `null` when
 * reminders are off or `sent` has reached `max`. With `after = announcedAt` it is the first reminder.
 */
export function nextReminderAt(
  outage: { announcedAt: Instant; sent: number },
  policy: ReminderPolicy,
  after: Instant,
): Date | null {
  if (policy.everyMs <= 0 || outage.sent >= policy.max) return null;
  const announcedMs = toMs(outage.announcedAt);
  const steps = Math.max(1, Math.floor((toMs(after) - announcedMs) / policy.everyMs) + 1);
  return new Date(announcedMs + steps * policy.everyMs);
}

/** The reminder state stored with a fresh announcement. */
export function startReminders(announcedAt: Instant, policy: ReminderPolicy): ReminderState {
  const next = nextReminderAt({ announcedAt, sent: 0 }, policy, announcedAt);
  return { announcedAt: new Date(toMs(announcedAt)).toISOString(), sent: 0, nextDueAt: next?.toISOString() ?? null };
}

/** Whether to write a reminder event now. */
export type ReminderDecision =
  | { kind: 'not-due' }
  /** Write one `machine.still_offline` with `reminder` as its number, and store `state` with it. */
  | { kind: 'send'; reminder: number; state: ReminderState };

/**
 * Whether a reminder is due at `now`. A daemon that was stopped across several due times sends one
 * (numbered by what was sent, so users see 1, 2, 3 and still get `max` of them) and then keeps the
 * grid: the next is the first grid point after now, not a burst of the missed ones.
 */
export function decideReminder(state: ReminderState, policy: ReminderPolicy, now: Instant): ReminderDecision {
  if (state.nextDueAt === null || toMs(now) < Date.parse(state.nextDueAt) || state.sent >= policy.max) return { kind: 'not-due' };
  const sent = state.sent + 1;
  const next = nextReminderAt({ announcedAt: Date.parse(state.announcedAt), sent }, policy, now);
  return { kind: 'send', reminder: sent, state: { ...state, sent, nextDueAt: next?.toISOString() ?? null } };
}

/**
 * Reads `remind_every` from a preferences body: a Go duration, `"0s"` (off) or at least 5m.
 * Returns milliseconds; throws {@link QuietInputError}.
 */
export function parseRemindEvery(value: unknown): number {
  const expected = `remind_every must be a Go duration: "0s" (off) or at least ${formatDuration(REMIND_EVERY_MIN_MS)}, such as "30m" or "2h"; got ${JSON.stringify(value)}`;
  if (typeof value !== 'string') throw new QuietInputError('remind_every', expected);
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (error instanceof DurationSyntaxError) throw new QuietInputError('remind_every', expected);
    throw error;
  }
  if (ms === 0) return 0;
  if (ms < REMIND_EVERY_MIN_MS) throw new QuietInputError('remind_every', expected);
  return ms;
}

/** Reads `remind_max` from a preferences body: an integer from 1 to 100. Throws {@link QuietInputError}. */
export function parseRemindMax(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > REMIND_MAX_LIMIT) {
    throw new QuietInputError('remind_max', `remind_max must be a whole number from 1 to ${REMIND_MAX_LIMIT}; got ${JSON.stringify(value)}`);
  }
  return value;
}
