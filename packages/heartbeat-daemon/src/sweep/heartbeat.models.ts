import { API_STALE_AFTER_MS, LIVENESS_BEAT_MS, type IngestLiveness, type MachineStatus } from '@lunasentri/shared';

/**
 * Pure decisions of the monitor (CONTRACT §3): given a machine row, the threshold, the time and the
 * state of ingest, which transition (if any) happens. No I/O, no clock: everything is an argument.
 */

/** The columns a decision reads. */
export interface MachineState {
  id: number;
  status: MachineStatus;
  last_seen: string | null;
  status_changed_at: string | null;
  is_enabled: 0 | 1;
  enabled_at: string | null;
  /** The end of the machine's latest maintenance window or snooze (CONTRACT §6.3); absent = none. */
  quiet_ended_at?: string | null;
}

export interface IngestState {
  /** No API process is live (all stopped, or none beat recently) although one has run before. */
  down: boolean;
  /** The latest time ingest resumed after an outage, if any. */
  resumedAt: string | null;
  /**
   * The latest beat of a live API process: every report it accepted before that moment is in the
   * database. Null when no API has ever recorded liveness (the daemon then decides on its own clock).
   */
  beatAt: string | null;
}

/** What the liveness rows say about ingest, as the decisions need it. */
export function ingestStateOf(liveness: IngestLiveness): IngestState {
  // Never recorded: no API has run against this database, so there is no outage to recognise.
  const down = liveness.everRecorded && !liveness.live;
  return { down, resumedAt: liveness.resumedAt, beatAt: liveness.everRecorded && !down ? liveness.beatAt : null };
}

/**
 * How long a starting daemon waits before it warns that ingest is down: when both processes start
 * together (a reboot, `npm start`, a restart of both units) the daemon is often up before the API
 * has recorded its first beat, and the database still says the API stopped. The API's stale window:
 * an API that is starting beats within it.
 */
export const INGEST_DOWN_START_GRACE_MS = API_STALE_AFTER_MS;

/**
 * Whether an ingest outage is to be warned about now. Not within {@link INGEST_DOWN_START_GRACE_MS}
 * of the daemon's own start: the silence may be an API that is starting too. Only the warning waits;
 * the outage itself counts at once (no machine goes offline meanwhile).
 */
export function ingestDownWarnable(ingest: IngestState, startedAt: Date, now: Date): boolean {
  return ingest.down && now.getTime() - startedAt.getTime() >= INGEST_DOWN_START_GRACE_MS;
}

/** The oldest report that still keeps a machine online at `now`: reports before it are past the threshold. */
export function cutoffOf(now: Date, thresholdMs: number): string {
  return new Date(now.getTime() - thresholdMs).toISOString();
}

/**
 * The moment offline is decided as of (CONTRACT §3.1): the latest API beat, or now if that is
 * earlier. Silence says something about a machine only while ingest was live; a beat is the proof,
 * since the API records one only after writing every report accepted before it. So a machine goes
 * offline once a beat later than its threshold crossing shows ingest was live after that moment:
 * about one beat (1 s) after the crossing while the API runs, and never while it is dead or frozen
 * but not yet stale (a SIGKILLed API beats no more), whatever the threshold. With no API ever
 * recorded, now.
 */
export function offlineEvidenceAt(now: Date, ingest: IngestState): Date {
  if (ingest.beatAt === null) return now;
  return new Date(Math.min(now.getTime(), time(ingest.beatAt)));
}

/** The cutoff of {@link cutoffOf} as of {@link offlineEvidenceAt}: online machines silent since before it go offline. */
export function offlineCutoffOf(now: Date, thresholdMs: number, ingest: IngestState): string {
  return cutoffOf(offlineEvidenceAt(now, ingest), thresholdMs);
}

/**
 * Whether the last ingest resume still protects every machine: within one threshold of the resume no
 * machine can go offline (each has a full threshold to report again), whatever its last report.
 * `cutoff` is the offline cutoff ({@link offlineCutoffOf}).
 */
export function resumeProtects(ingest: IngestState, cutoff: string): boolean {
  return ingest.resumedAt !== null && time(ingest.resumedAt) >= time(cutoff);
}

/**
 * Whether any online machine can go offline now: not while ingest is down (silence says nothing then),
 * nor while a resume protects them all. When false, the sweep does not even look for candidates.
 */
export function offlinePossible(ingest: IngestState, cutoff: string): boolean {
  return !ingest.down && !resumeProtects(ingest, cutoff);
}

export interface DecisionContext {
  now: Date;
  thresholdMs: number;
  ingest: IngestState;
}

export type Decision =
  | { kind: 'went-offline'; effectiveLastSeen: string }
  | { kind: 'came-online'; offlineSince: string | null }
  /** A report within the threshold from a `pending` machine: online, silently. */
  | { kind: 'first-report' }
  | { kind: 'none'; reason: NoTransitionReason };

export type NoTransitionReason =
  | 'disabled'
  | 'never-reported'
  | 'within-threshold'
  | 'ingest-down'
  /** past the threshold by our clock, but no API beat since the crossing shows ingest was live */
  | 'awaiting-ingest-beat'
  | 'no-new-report'
  | 'stale-report';

const time = (iso: string): number => Date.parse(iso);

/** The latest of the given ISO timestamps (ignoring nulls), or null when there are none. */
export function latest(...values: Array<string | null | undefined>): string | null {
  let best: string | null = null;
  for (const value of values) {
    if (value && (best === null || time(value) > time(best))) best = value;
  }
  return best;
}

/**
 * The moment an online machine's threshold starts: its last report, its last re-enable, the last
 * ingest resume, or the end of its latest maintenance window or snooze, whichever is latest
 * (CONTRACT §3, §3.1, §6.3).
 */
export function effectiveLastSeen(machine: MachineState, ingest: IngestState): string | null {
  return latest(machine.last_seen, machine.enabled_at, ingest.resumedAt, machine.quiet_ended_at);
}

/** `now − at ≤ threshold`: exactly at the threshold a machine is still within it. */
export function isWithinThreshold(at: string, now: Date, thresholdMs: number): boolean {
  return now.getTime() - time(at) <= thresholdMs;
}

export function decide(machine: MachineState, ctx: DecisionContext): Decision {
  if (machine.is_enabled !== 1) return { kind: 'none', reason: 'disabled' };
  switch (machine.status) {
    case 'pending':
      if (machine.last_seen === null) return { kind: 'none', reason: 'never-reported' };
      // Online only on a fresh report: a machine whose only report is already stale was never seen
      // online by the daemon, and must not go online and offline (with an alert) in one check.
      if (!isWithinThreshold(machine.last_seen, ctx.now, ctx.thresholdMs)) return { kind: 'none', reason: 'stale-report' };
      return { kind: 'first-report' };
    case 'online':
      return silenceDecision(machine, ctx);
    case 'offline': {
      if (machine.last_seen === null) return { kind: 'none', reason: 'no-new-report' };
      // Only a report made after the machine went offline is a recovery (never a re-enable or a resume).
      if (machine.status_changed_at !== null && time(machine.last_seen) <= time(machine.status_changed_at)) {
        return { kind: 'none', reason: 'no-new-report' };
      }
      if (!isWithinThreshold(machine.last_seen, ctx.now, ctx.thresholdMs)) return { kind: 'none', reason: 'stale-report' };
      return { kind: 'came-online', offlineSince: machine.status_changed_at };
    }
  }
}

/**
 * Whether a machine's silence makes it offline now (the rule for an `online` machine): past the
 * threshold from its effective last seen, with ingest live past the crossing. The quiet rules ask
 * the same of a machine whose outage went unannounced during a window or snooze.
 */
export function silenceDecision(machine: MachineState, ctx: DecisionContext): Extract<Decision, { kind: 'went-offline' | 'none' }> {
  const effective = effectiveLastSeen(machine, ctx.ingest);
  if (effective === null) return { kind: 'none', reason: 'never-reported' };
  if (isWithinThreshold(effective, ctx.now, ctx.thresholdMs)) return { kind: 'none', reason: 'within-threshold' };
  // While ingest is down, silence says nothing about the machines.
  if (ctx.ingest.down) return { kind: 'none', reason: 'ingest-down' };
  // Nor before ingest is known to have been live past the crossing (its reports written).
  if (isWithinThreshold(effective, offlineEvidenceAt(ctx.now, ctx.ingest), ctx.thresholdMs)) return { kind: 'none', reason: 'awaiting-ingest-beat' };
  return { kind: 'went-offline', effectiveLastSeen: effective };
}

/** Inputs for {@link nextCheckAt}. Times are ISO strings as stored. */
export interface WakeInputs {
  now: Date;
  intervalMs: number;
  thresholdMs: number;
  ingest: IngestState;
  /** The oldest `last_seen` among online machines that is still within the threshold as of the offline cutoff ({@link offlineCutoffOf}). */
  earliestFreshLastSeen: string | null;
  /** The oldest `enabled_at` still within the threshold (as of the offline cutoff) among enabled online machines whose last report is not. */
  earliestProtectingEnable: string | null;
  /** When the daemon started: while ingest is down, a check at the end of its start grace warns of it on time. */
  startedAt?: Date;
  /** The earliest stored due time of a quiet rule (a window end, a snooze end, a settle, a reminder), if any. */
  quietDueAt?: string | null;
}

/**
 * When the next check should run: when the first online machine will cross the threshold (so offline
 * is detected at the threshold, not a whole interval later), when a starting daemon's grace for an
 * ingest outage ends, and never later than one interval. A machine past its crossing that waits for
 * an API beat to confirm it is checked again a beat later (the beat's commit usually wakes the loop
 * sooner, through the change feed).
 */
export function nextCheckAt(inputs: WakeInputs): Date {
  const now = inputs.now.getTime();
  let wake = now + inputs.intervalMs;
  if (inputs.ingest.down && inputs.startedAt) {
    const graceEnds = inputs.startedAt.getTime() + INGEST_DOWN_START_GRACE_MS;
    if (graceEnds > now && graceEnds < wake) wake = graceEnds;
  }
  for (const crossing of crossings(inputs)) {
    const due = crossing.at > now ? crossing.at : crossing.awaitingBeat ? now + LIVENESS_BEAT_MS : Infinity;
    if (due < wake) wake = due;
  }
  // A due time already past is work for the next check; the sweep has just done what it could, so
  // wait a beat rather than spin (a due review that waits for ingest is retried then).
  if (inputs.quietDueAt) wake = Math.min(wake, Math.max(time(inputs.quietDueAt), now + LIVENESS_BEAT_MS));
  return new Date(wake);
}

/**
 * Whether a machine has crossed the threshold by now but not yet as of the latest API beat: its
 * offline waits for the next beat, so a check is worth running as soon as a beat is written (the
 * beat's commit reaches the loop through the change feed) instead of a whole beat later.
 */
export function awaitsIngestBeat(inputs: WakeInputs): boolean {
  return crossings(inputs).some((crossing) => crossing.awaitingBeat);
}

/**
 * The threshold crossings the next check depends on: the first instant strictly past the threshold
 * (the boundary itself is still online) of each start, and whether that instant, already past by
 * our clock, still waits for an API beat to confirm it. None while ingest is down.
 */
function crossings(inputs: WakeInputs): Array<{ at: number; awaitingBeat: boolean }> {
  if (inputs.ingest.down) return [];
  const now = inputs.now.getTime();
  const evidence = offlineEvidenceAt(inputs.now, inputs.ingest).getTime();
  const starts = [inputs.earliestFreshLastSeen, inputs.earliestProtectingEnable, inputs.ingest.resumedAt];
  return starts.flatMap((start) => {
    if (start === null) return [];
    const at = time(start) + inputs.thresholdMs + 1;
    return [{ at, awaitingBeat: at <= now && at > evidence }];
  });
}

/** How long ago, rounded to whole seconds (for the "last seen: 2m15s ago" log line). */
export function wholeSecondsBetween(from: string, to: Date): number {
  return Math.max(0, Math.round((to.getTime() - time(from)) / 1000)) * 1000;
}
