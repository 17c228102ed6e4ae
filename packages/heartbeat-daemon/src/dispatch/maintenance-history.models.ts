import { MAX_ENDING_SPAN_MS, nextOccurrence, occurrenceAt, occurrencesEndingBetween, type MaintenanceSchedule, type Occurrence } from '@lunasentri/shared';

/**
 * Which occurrences of a maintenance window go into the outage history (CONTRACT §7.2: time in
 * maintenance is left out of uptime). Pure: the window, when it was last due and now in; what to
 * record and when to look again out. An occurrence is recorded once it has started, with its planned
 * end (readers clip to now), so nothing has to close it; those the daemon missed while it was down
 * are recorded when it is back. Time before the window was created, or after it was deleted, is no
 * maintenance.
 */

export interface WindowHistoryInput {
  schedule: MaintenanceSchedule;
  /** `history_due_at`: occurrences ending after this are the ones not yet recorded */
  dueAt: Date;
  createdAt: Date;
  /** set once the user deleted the window; nothing of it counts after this */
  deletedAt: Date | null;
  now: Date;
}

export interface RecordedOccurrence {
  startedAt: string;
  endedAt: string;
}

export interface WindowHistoryPlan {
  /** in order of start; recording one twice changes nothing (one row per window, machine and start) */
  occurrences: RecordedOccurrence[];
  /** the next start to come back at; null when none is left (a one-off that has started, a deleted window) */
  nextDueAt: string | null;
}

export function planWindowHistory(input: WindowHistoryInput): WindowHistoryPlan {
  const now = input.now.getTime();
  const limit = Math.min(now, input.deletedAt?.getTime() ?? now);
  // A daemon down for over a year records the last year of it.
  const from = Math.max(input.dueAt.getTime(), now - MAX_ENDING_SPAN_MS);
  const candidates: Occurrence[] = from <= now ? occurrencesEndingBetween(input.schedule, new Date(from), input.now) : [];
  for (const at of [input.now, input.deletedAt]) {
    const open = at === null ? null : occurrenceAt(input.schedule, at);
    if (open) candidates.push(open);
  }
  const byStart = new Map<number, RecordedOccurrence>();
  for (const o of candidates) {
    const start = Math.max(o.start.getTime(), input.createdAt.getTime());
    const end = Math.min(o.end.getTime(), input.deletedAt?.getTime() ?? Infinity);
    if (o.start.getTime() > limit || end <= start) continue;
    byStart.set(start, { startedAt: new Date(start).toISOString(), endedAt: new Date(end).toISOString() });
  }
  const next = input.deletedAt === null ? nextOccurrence(input.schedule, input.now) : null;
  return {
    occurrences: [...byStart.entries()].sort((a, b) => a[0] - b[0]).map(([, o]) => o),
    nextDueAt: next === null ? null : next.start.toISOString(),
  };
}
