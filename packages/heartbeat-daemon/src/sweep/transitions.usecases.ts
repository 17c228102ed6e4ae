import { randomUUID } from 'node:crypto';
import { formatDuration, type Database, type FlapSettings, type Logger, type MachineStatus } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { closeHandoff, openHandoff } from '../outbox/outbox.handoff';
import type { OutboxHandoff } from '../outbox/outbox.types';
import { writeOutcomes, type WrittenOutcome } from './announcements.usecases';
import { decide, wholeSecondsBetween, type DecisionContext } from './heartbeat.models';
import { compareAndSetStatuses, findMachines, type MachineRow } from './machines.repository';
import { recordOutageIntervals } from './outage-history.repository';
import { decideChange } from './quiet.models';
import { logQuietOutcome } from './quiet.log';

export type TransitionKind = 'went-offline' | 'came-online' | 'first-report';

export interface AppliedTransition {
  machineId: number;
  kind: TransitionKind;
  /** null when the transition creates no event (first report, or an outage announced before) */
  eventId: string | null;
  deliveries: number;
}

export interface TransitionDeps {
  db: Kysely<Database>;
  logger: Logger;
  newEventId?: () => string;
  /** the flapping rule (CONTRACT §6.2); default the contract's defaults: 5 changes in 30m, settled after 5m */
  flap?: FlapSettings;
  /** this process's dispatcher, to take the new deliveries as they are written */
  handoff?: OutboxHandoff;
}

/** `--flap-threshold 5 --flap-window 30m --flap-settle 5m` */
export const DEFAULT_FLAP: FlapSettings = { threshold: 5, windowMs: 30 * 60_000, settleMs: 5 * 60_000 };

const FROM: Record<TransitionKind, MachineStatus> = { 'went-offline': 'online', 'came-online': 'offline', 'first-report': 'pending' };
const TO: Record<TransitionKind, MachineStatus> = { 'went-offline': 'offline', 'came-online': 'online', 'first-report': 'online' };

/**
 * Commits the transitions of kind `expected` decided on `candidates`, all in one `BEGIN IMMEDIATE`
 * transaction, and logs them once committed. Under the write lock every row is read again and
 * decided again (ingest may have written a fresh `last_seen` since the candidates were read, another
 * daemon may have moved it), then its status is compare-and-set, and what the quiet rules make of
 * the change (its event, suppressed or not, its dedup row, its flapping state) is written in the
 * same transaction: a batch commits whole or not at all, so no transition ever exists without its
 * outbox rows. Returns the transitions applied, in candidate order.
 */
export async function applyTransitions(
  deps: TransitionDeps,
  candidates: readonly MachineRow[],
  expected: TransitionKind,
  ctx: DecisionContext,
): Promise<AppliedTransition[]> {
  if (candidates.length === 0) return [];
  const newEventId = deps.newEventId ?? randomUUID;
  const handoff = openHandoff(deps.handoff, ctx.now);
  const applied = await deps.db.transaction().execute(async (trx): Promise<WrittenOutcome[]> => {
    const current = new Map((await findMachines(trx, candidates.map((c) => c.id))).map((m) => [m.id, m]));
    const due = candidates.flatMap((c) => {
      const machine = current.get(c.id);
      const decision = machine ? decide(machine, ctx) : null;
      return machine && decision?.kind === expected ? [{ machine, decision }] : [];
    });
    const moved = await compareAndSetStatuses(trx, { ids: due.map((d) => d.machine.id), from: FROM[expected], to: TO[expected], at: ctx.now.toISOString() });
    const done = due.filter((d) => moved.has(d.machine.id));
    await recordOutageIntervals(trx, { kind: expected, machineIds: done.map((d) => d.machine.id), at: ctx.now.toISOString() });
    const subjects = done.map(({ machine, decision }) => ({
      machine,
      decide: (outageAnnounced: boolean, quiet: Parameters<typeof decideChange>[3]) => decideChange(machine, expected, outageAnnounced, quiet),
      offlineSince: decision.kind === 'came-online' ? decision.offlineSince : null,
    }));
    return writeOutcomes(trx, subjects, { decision: ctx, flap: deps.flap ?? DEFAULT_FLAP, newEventId, handoff });
  });
  closeHandoff(deps.handoff, handoff);
  // Only now, after the commit: a logged transition is a committed one.
  for (const { machine, outcome } of applied) {
    logTransition(deps.logger, machine, expected, ctx.now);
    logQuietOutcome(deps.logger, machine, outcome);
  }
  return applied.map(({ machine, eventId, deliveries }) => ({ machineId: machine.id, kind: expected, eventId, deliveries }));
}

function logTransition(logger: Logger, machine: MachineRow, kind: TransitionKind, now: Date): void {
  const label = `Machine ${machine.id} (${machine.name})`;
  if (kind === 'went-offline') {
    const ago = machine.last_seen === null ? 'never' : `${formatDuration(wholeSecondsBetween(machine.last_seen, now))} ago`;
    logger.warn(`${label} went offline (last seen: ${ago})`);
  } else if (kind === 'came-online') {
    logger.info(`${label} came back online`);
  } else {
    // Info, not debug: it is how a user sees a new agent connect.
    logger.info(`${label} reported for the first time: online`);
  }
}
