import {
  checkFlapSettled,
  decideReminder,
  isSnoozed,
  LIVENESS_BEAT_MS,
  NEXT_ONLINE,
  NOT_FLAPPING,
  recordStatusChange,
  snoozeEndedAt,
  startReminders,
  type EventType,
  type FlapSettings,
  type FlapState,
  type ReminderPolicy,
  type SuppressedReason,
} from '@lunasentri/shared';
import { effectiveLastSeen, latest, silenceDecision, type DecisionContext, type MachineState } from './heartbeat.models';

/**
 * The quiet rules of CONTRACT §6.2–§6.4 as pure decisions over one machine: what a status change,
 * a due review (a snooze or window that ended, a flapping machine that may settle, an announcement
 * owed since) or a due reminder means, given its row, what its channels were last told, the
 * settings and now. Nothing here does I/O; the sweep's use cases write what these return.
 *
 * One principle runs through them: the owner's channels hold a picture of each machine (its
 * `announced_status`), changed only by events that reach them. Quiet rules withhold events (they are
 * still recorded, as suppressed); when the quiet ends, only a difference between that picture and
 * the machine is announced. The dedup row of §3 is kept equal to "offline now and announced offline".
 */

/** The machine columns the quiet rules read and write (migration 021). */
export interface QuietColumns {
  snoozed_until: string | null;
  announced_status: 'online' | 'offline' | null;
  announced_at: string | null;
  flapping_since: string | null;
  flap_changes: string | null;
  quiet_ended_at: string | null;
  quiet_due_at: string | null;
}

export type QuietMachine = MachineState & QuietColumns;

/** What a decision also needs besides the machine. */
export interface QuietContext extends DecisionContext {
  flap: FlapSettings;
  /** one of the machine's maintenance windows is open now */
  inMaintenance: boolean;
  /** the owner's reminder preferences */
  policy: ReminderPolicy;
}

/** An event the rules write: to the owner's channels, or recorded as held back (`suppressed`). */
export interface QuietEvent {
  type: EventType;
  suppressed: SuppressedReason | null;
  /** the machine status the payload shows */
  status: 'online' | 'offline';
  /** `machine.flapping` only */
  flapping?: { transitions: number; windowSeconds: number };
  /** a `machine.online` that ends an announced outage: it goes to the channels told of that outage */
  endsAnnouncedOutage?: boolean;
}

/** What becomes of the dedup row (`machine_offline_notifications`). */
export type OutageRow =
  | { kind: 'keep' }
  | { kind: 'delete' }
  /** (re)written: the outage announced at `notifiedAt`, reminders from `nextReminderAt` (null: none) */
  | { kind: 'write'; notifiedAt: string; nextReminderAt: string | null };

export interface QuietOutcome {
  event: QuietEvent | null;
  /** the machine's quiet columns after the decision (all of them) */
  columns: QuietColumns;
  outage: OutageRow;
}

/** The kinds of status change the sweep makes (see heartbeat.models `decide`). */
export type ChangeKind = 'went-offline' | 'came-online' | 'first-report';

const TO: Record<ChangeKind, 'online' | 'offline'> = { 'went-offline': 'offline', 'came-online': 'online', 'first-report': 'online' };

/** A machine's stored flapping state; an unreadable list counts as no recent changes (never as flapping). */
export function flapStateOf(m: Pick<QuietColumns, 'flapping_since' | 'flap_changes'>): FlapState {
  let recentChanges: string[] = [];
  try {
    const parsed: unknown = m.flap_changes === null ? [] : JSON.parse(m.flap_changes);
    if (Array.isArray(parsed)) recentChanges = parsed.filter((t): t is string => typeof t === 'string' && Number.isFinite(Date.parse(t)));
  } catch {
    recentChanges = []; // a hand-edited row: start counting afresh
  }
  return m.flapping_since === null && recentChanges.length === 0 ? NOT_FLAPPING : { flappingSince: m.flapping_since, recentChanges };
}

/**
 * What the channels were last told: `offline` while the dedup row exists; else the stored picture;
 * a machine with no picture yet counts as announced online once it has reported (§6.3: a silent
 * first report counts as announced online).
 */
export function announcedOf(m: QuietMachine, outageAnnounced: boolean): 'online' | 'offline' | null {
  if (outageAnnounced) return 'offline';
  if (m.announced_status !== null) return m.announced_status;
  return m.status === 'pending' ? null : 'online';
}

/** Whether a quiet rule holds the machine's events back now, and which (a window first, then a snooze, then flapping). */
export function quietReason(m: Pick<QuietColumns, 'snoozed_until' | 'flapping_since'>, ctx: Pick<QuietContext, 'inMaintenance' | 'now'>): SuppressedReason | null {
  if (ctx.inMaintenance) return 'maintenance';
  if (isSnoozed(m.snoozed_until, ctx.now)) return 'snooze';
  return m.flapping_since !== null ? 'flapping' : null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The next moment the daemon must look at the machine for a quiet rule, or null: a timed snooze's
 * end (at once for one already over), a flapping machine's settle time, and, for an outage the
 * channels were not told of while nothing keeps it quiet, the moment its silence crosses the
 * threshold (a beat from now when that moment has passed but ingest has not confirmed it).
 */
export function nextQuietDueAt(m: QuietMachine, ctx: QuietContext): string | null {
  const due: number[] = [];
  if (m.snoozed_until !== null && m.snoozed_until !== NEXT_ONLINE) {
    const until = Date.parse(m.snoozed_until);
    if (Number.isFinite(until)) due.push(until);
  }
  if (m.flapping_since !== null && m.status_changed_at !== null) due.push(Date.parse(m.status_changed_at) + ctx.flap.settleMs);
  if (m.status === 'offline' && announcedOf(m, false) !== 'offline' && quietReason(m, ctx) === null) {
    const effective = effectiveLastSeen(m, ctx.ingest);
    const crossing = effective === null ? ctx.now.getTime() : Date.parse(effective) + ctx.thresholdMs + 1;
    due.push(Math.max(crossing, ctx.now.getTime() + LIVENESS_BEAT_MS));
  }
  return due.length === 0 ? null : iso(Math.min(...due));
}

function announce(columns: QuietColumns, status: 'online' | 'offline', now: Date): void {
  columns.announced_status = status;
  columns.announced_at = now.toISOString();
}

/** The dedup row of an outage announced now: reminders on the owner's grid, unless the machine is flapping. */
function announcedNow(now: Date, policy: ReminderPolicy, flapping: boolean): OutageRow {
  const state = startReminders(now, policy);
  return { kind: 'write', notifiedAt: state.announcedAt, nextReminderAt: flapping ? null : state.nextDueAt };
}

/**
 * A status change decided by the sweep (CONTRACT §3), through the quiet rules: counted for flapping;
 * announced as usual, or as the start of flapping, or recorded as suppressed (maintenance, snooze,
 * flapping). A recovery ends a `next-online` snooze and is announced only if its outage was.
 * `outageAnnounced`: the dedup row existed before the change.
 */
export function decideChange(m: QuietMachine, kind: ChangeKind, outageAnnounced: boolean, ctx: QuietContext): QuietOutcome {
  const { now } = ctx;
  const columns: QuietColumns = pickColumns(m);
  const after = (outage: OutageRow, event: QuietEvent | null): QuietOutcome => {
    const changed = { ...m, ...columns, status: TO[kind], status_changed_at: now.toISOString() };
    columns.quiet_due_at = nextQuietDueAt(changed, ctx);
    return { event, columns, outage };
  };
  if (kind === 'first-report') {
    if (columns.announced_status === null) announce(columns, 'online', now);
    return after({ kind: 'keep' }, null);
  }
  const to = TO[kind];
  const flap = recordStatusChange(flapStateOf(m), { from: m.status, to, at: now }, ctx.flap);
  columns.flapping_since = flap.state.flappingSince;
  columns.flap_changes = flap.state.recentChanges.length === 0 ? null : JSON.stringify(flap.state.recentChanges);
  if (kind === 'came-online' && columns.snoozed_until === NEXT_ONLINE) {
    columns.snoozed_until = null;
    columns.quiet_ended_at = latest(columns.quiet_ended_at, now.toISOString());
  }
  const heldBy = ctx.inMaintenance ? 'maintenance' : isSnoozed(columns.snoozed_until, now) ? 'snooze' : flap.kind === 'suppressed' ? 'flapping' : null;
  const announced = announcedOf(m, outageAnnounced);
  // While held back, an outage told before stays told: the dedup row follows "offline and announced offline".
  const heldOutage: OutageRow =
    to === 'online' ? { kind: 'delete' } : announced === 'offline' ? { kind: 'write', notifiedAt: m.announced_at ?? now.toISOString(), nextReminderAt: null } : { kind: 'keep' };

  if (flap.kind === 'started-flapping') {
    const event: QuietEvent = { type: 'machine.flapping', suppressed: heldBy, status: to, flapping: { transitions: flap.transitions, windowSeconds: flap.windowSeconds } };
    if (heldBy !== null) return after(heldOutage, event);
    announce(columns, to, now);
    return after(to === 'offline' ? announcedNow(now, ctx.policy, true) : { kind: 'delete' }, event);
  }
  if (heldBy !== null) return after(heldOutage, { type: kind === 'went-offline' ? 'machine.offline' : 'machine.online', suppressed: heldBy, status: to });
  if (kind === 'went-offline') {
    // At most one offline event per outage, whatever happened before (restarts, other daemons).
    if (outageAnnounced) return after({ kind: 'keep' }, null);
    announce(columns, 'offline', now);
    return after(announcedNow(now, ctx.policy, false), { type: 'machine.offline', suppressed: null, status: 'offline' });
  }
  // A recovery from an outage nobody was told about is not news.
  if (announced !== 'offline') return after({ kind: 'delete' }, null);
  announce(columns, 'online', now);
  return after({ kind: 'delete' }, { type: 'machine.online', suppressed: null, status: 'online', endsAnnouncedOutage: true });
}

function pickColumns(m: QuietColumns): QuietColumns {
  const { snoozed_until, announced_status, announced_at, flapping_since, flap_changes, quiet_ended_at, quiet_due_at } = m;
  return { snoozed_until, announced_status, announced_at, flapping_since, flap_changes, quiet_ended_at, quiet_due_at };
}

/**
 * A machine whose quiet due time has come (CONTRACT §6.2, §6.3): a timed snooze that ran out is
 * cleared and its end becomes the machine's `quiet_ended_at` (thresholds count from it); a flapping
 * machine that kept one status for the settle time stops flapping with one `machine.flapping_ended`,
 * which announces that status; and once nothing keeps the machine quiet, only what differs from what
 * its channels were last told is announced (`machine.online`, or `machine.offline` once its silence
 * passed the threshold from the end). `outageAnnounced`: the dedup row exists.
 */
export function reviewMachine(m: QuietMachine, outageAnnounced: boolean, ctx: QuietContext): QuietOutcome {
  const { now } = ctx;
  const columns = pickColumns(m);
  const ended = snoozeEndedAt(columns.snoozed_until, now);
  if (ended !== null) {
    columns.snoozed_until = null;
    columns.quiet_ended_at = latest(columns.quiet_ended_at, ended.toISOString());
  }
  const done = (outage: OutageRow, event: QuietEvent | null): QuietOutcome => {
    columns.quiet_due_at = nextQuietDueAt({ ...m, ...columns }, ctx);
    return { event, columns, outage };
  };
  if (m.status === 'pending') return done({ kind: 'keep' }, null);
  const settle = checkFlapSettled(flapStateOf(m), { status: m.status, statusChangedAt: m.status_changed_at === null ? now : Date.parse(m.status_changed_at) }, now, ctx.flap);
  if (settle.kind === 'settled') {
    columns.flapping_since = null;
    const heldBy = quietReason(columns, ctx);
    const event: QuietEvent = { type: 'machine.flapping_ended', suppressed: heldBy, status: settle.status };
    if (heldBy !== null) return done({ kind: 'keep' }, event);
    announce(columns, settle.status, now);
    return done(settle.status === 'offline' ? announcedNow(now, ctx.policy, false) : { kind: 'delete' }, event);
  }
  if (quietReason(columns, ctx) !== null) return done({ kind: 'keep' }, null);
  const announced = announcedOf(m, outageAnnounced);
  if (m.status === 'online' && announced === 'offline') {
    announce(columns, 'online', now);
    return done({ kind: 'delete' }, { type: 'machine.online', suppressed: null, status: 'online', endsAnnouncedOutage: true });
  }
  const silent = silenceDecision({ ...m, ...columns, status: 'online' }, ctx);
  if (m.status === 'offline' && announced !== 'offline' && silent.kind === 'went-offline') {
    announce(columns, 'offline', now);
    return done(announcedNow(now, ctx.policy, false), { type: 'machine.offline', suppressed: null, status: 'offline' });
  }
  return done({ kind: 'keep' }, null);
}

/** The stored reminder schedule of an announced outage (the dedup row). */
export interface OutageReminders {
  notified_at: string;
  reminders_sent: number;
  next_reminder_at: string | null;
}

export type ReminderStep =
  | { kind: 'not-due' }
  /** no reminder for this outage any more (recovered, quiet since it was announced, disabled, turned off, all sent) */
  | { kind: 'stop' }
  | { kind: 'send'; reminder: number; nextReminderAt: string | null };

/**
 * Whether an announced outage's reminder is due (CONTRACT §6.4). A snooze, a window, flapping or a
 * disable since the announcement stops the reminders of that outage for good; otherwise the stored
 * grid decides (at most one catch-up after the daemon was down, then the grid again).
 */
export function reminderStep(m: QuietMachine, row: OutageReminders, ctx: QuietContext): ReminderStep {
  if (row.next_reminder_at === null) return { kind: 'not-due' };
  const announcedMs = Date.parse(row.notified_at);
  const since = (at: string | null) => at !== null && Date.parse(at) > announcedMs;
  if (m.status !== 'offline' || m.is_enabled !== 1 || quietReason(m, ctx) !== null || since(m.quiet_ended_at) || since(m.enabled_at) || ctx.policy.everyMs <= 0) {
    return { kind: 'stop' };
  }
  const decision = decideReminder({ announcedAt: row.notified_at, sent: row.reminders_sent, nextDueAt: row.next_reminder_at }, ctx.policy, ctx.now);
  if (decision.kind === 'send') return { kind: 'send', reminder: decision.reminder, nextReminderAt: decision.state.nextDueAt };
  return row.reminders_sent >= ctx.policy.max ? { kind: 'stop' } : { kind: 'not-due' };
}
