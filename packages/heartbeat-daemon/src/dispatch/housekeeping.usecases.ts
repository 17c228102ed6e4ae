import { hostname } from 'node:os';
import {
  currentProcessIdentity,
  maintenanceScheduleOf,
  failureStreak,
  runningProcessStarted,
  yieldToEventLoop,
  type ChannelKind,
  type Clock,
  type Database,
  type FailureStreak,
  type Logger,
} from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { deleteFinishedEvents } from '../outbox/outbox.repository';
import { HOLDER_STALE_FLOOR_MS, isClaimHolderGone, pidAlive, type Host } from './claims.models';
import { claimHolders, expireStale, releaseClaims } from './deliveries.repository';
import { deleteUnusedDigests } from './digests.repository';
import { deleteEndedIntervals, OUTAGE_HISTORY_KEEP_MS, takeJobTurn } from './housekeeping.repository';
import { planWindowHistory } from './maintenance-history.models';
import { dueWindows, recordWindowHistory } from './maintenance-history.repository';
import type { RecordedOutcome } from './outcomes.usecases';
import { DELIVERY_TTL_MS } from './retry.models';

export interface HousekeepingDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** this daemon's instance id: its own claims are never "taken over" */
  instanceId: string;
  /** the channels this process sends on (to say why Telegram rows ended dead) */
  channels: readonly ChannelKind[];
  /** this process, for recognising claims of daemon instances that are gone; default the real host */
  host?: Host;
  /**
   * for a holder that recorded neither its process identity nor its beat period: its pid gone, it
   * still keeps its claims until its liveness beat is this old; default 10 s (the daemon passes
   * {@link holderStaleMs} of its own interval)
   */
  holderStaleMs?: number;
  /** events whose deliveries are all final are deleted this long after they happened; default 30 days */
  retentionMs?: number;
  /** outage-history intervals are deleted this long after they ended; default 400 days, whatever `retentionMs` */
  historyKeepMs?: number;
  /** how often the job runs in the background; default 5 s (the takeover cadence) */
  everyMs?: number;
  /** after claims were taken over: their rows can be sent now */
  onReleased?: () => void;
  /** after deliveries ended dead of old age (for the metrics) */
  onExpired?: (outcomes: readonly RecordedOutcome[]) => void;
}

export interface Housekeeping {
  /** Runs whichever of the jobs is due now (takeover each time; maintenance history every 10 s; expiry once a minute; retention and history pruning once an hour). */
  runOnce(): Promise<void>;
  /** Runs in the background every `everyMs` until {@link Housekeeping.stop}. */
  start(): void;
  stop(): Promise<void>;
}

const EXPIRY_EVERY_MS = 60_000;
/** How late a maintenance occurrence may reach the outage history after it started. */
export const MAINTENANCE_HISTORY_EVERY_MS = 10_000;
const WINDOWS_PER_STATEMENT = 100;
const RETENTION_EVERY_MS = 3600_000;
const EXPIRE_PER_STATEMENT = 500;
const DELETE_PER_STATEMENT = 200;

/**
 * The outbox's housekeeping, off the delivery path: claims of daemons that are certainly gone are
 * taken over, deliveries still pending 24 h after their event end dead, old finished events are
 * deleted, and outage-history intervals that ended over 400 days ago too; maintenance occurrences
 * that have started are written to the outage history for their windows' machines. Each job keeps its own
 * cadence; expiry, retention and history pruning run once per period for the whole
 * fleet of daemons sharing the database ({@link takeJobTurn}), not once per daemon. One job failing
 * is logged and the others still run.
 */
export function createHousekeeping(deps: HousekeepingDeps): Housekeeping {
  const { db, clock, logger, instanceId } = deps;
  const host: Host = deps.host ?? { hostname: hostname(), pid: process.pid, identity: currentProcessIdentity(), runningProcessStarted, pidAlive };
  const staleMs = deps.holderStaleMs ?? HOLDER_STALE_FLOOR_MS;
  const retentionMs = deps.retentionMs ?? 30 * 24 * 3600_000;
  let started = false;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  /** Frees the claims of instances that are certainly gone. */
  async function takeOverFromGone(now: Date): Promise<void> {
    let total = 0;
    for (const holder of await claimHolders(db, instanceId, now)) {
      if (!isClaimHolderGone(holder, host, now, staleMs)) continue;
      const released = await releaseClaims(db, holder.instance_id, now);
      total += released;
      if (released > 0) logger.info(`Took over ${released} delivery claim(s) of daemon instance ${holder.instance_id}, which is no longer running`);
    }
    if (total > 0) deps.onReleased?.();
  }

  /** 500 rows a statement, one error line per statement, not per row: a channel that is off ends them by the thousand. */
  async function expireOld(now: Date): Promise<void> {
    for (;;) {
      const dead = await expireStale(db, now, new Date(now.getTime() - DELIVERY_TTL_MS), EXPIRE_PER_STATEMENT);
      if (dead.length === 0) return;
      deps.onExpired?.(dead.map((d) => ({ channel: d.channel, outcome: 'dead' })));
      const telegram = dead.filter((d) => d.channel === 'telegram').length;
      const off = telegram > 0 && !deps.channels.includes('telegram') ? ' (Telegram is off: TELEGRAM_BOT_TOKEN is not set)' : '';
      logger.error(
        `${dead.length} deliveries are dead: still not delivered 24h after their event (${dead.length - telegram} webhook, ${telegram} Telegram${off}; first: delivery ${dead[0]!.id})`,
      );
      if (dead.length < EXPIRE_PER_STATEMENT) return;
    }
  }

  /** 200 a statement with a yield between, so the history of a busy fleet never holds the write lock for long. */
  async function deleteInSteps(deleteSome: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (let n = DELETE_PER_STATEMENT; n === DELETE_PER_STATEMENT && !stopped; ) {
      n = await deleteSome(DELETE_PER_STATEMENT);
      total += n;
      await yieldToEventLoop();
    }
    return total;
  }

  async function applyRetention(now: Date): Promise<void> {
    const cutoff = new Date(now.getTime() - retentionMs);
    const total = await deleteInSteps((limit) => deleteFinishedEvents(db, cutoff, limit));
    if (total > 0) logger.info(`Deleted ${total} event(s) older than ${Math.round(retentionMs / 86_400_000)} days, with their deliveries`);
    // The stored Telegram messages whose deliveries went with their events.
    await deleteInSteps((limit) => deleteUnusedDigests(db, cutoff, limit));
  }

  async function pruneHistory(now: Date): Promise<void> {
    const keepMs = deps.historyKeepMs ?? OUTAGE_HISTORY_KEEP_MS;
    const total = await deleteInSteps((limit) => deleteEndedIntervals(db, new Date(now.getTime() - keepMs), limit));
    if (total > 0) logger.info(`Deleted ${total} outage-history interval(s) that ended more than ${Math.round(keepMs / 86_400_000)} days ago`);
  }

  /** The occurrences of windows that started since they were last due: only those windows, and only their machines. */
  async function recordMaintenance(now: Date): Promise<void> {
    for (;;) {
      const windows = await dueWindows(db, now, WINDOWS_PER_STATEMENT).execute();
      for (const window of windows) {
        const plan = planWindowHistory({
          schedule: maintenanceScheduleOf(window),
          dueAt: new Date(window.history_due_at!),
          createdAt: new Date(window.created_at),
          deletedAt: window.deleted_at === null ? null : new Date(window.deleted_at),
          now,
        });
        await recordWindowHistory(db, window, plan);
      }
      if (windows.length < WINDOWS_PER_STATEMENT || stopped) return;
      await yieldToEventLoop();
    }
  }

  const streaks = new Map<string, FailureStreak>();
  async function job(name: string, run: () => Promise<void>): Promise<void> {
    let streak = streaks.get(name);
    if (!streak) streaks.set(name, (streak = failureStreak(logger, `Housekeeping (${name})`)));
    try {
      await run();
      streak.succeeded();
    } catch (error) {
      streak.failed(error);
    }
  }

  /** A fleet-wide job runs when this daemon wins its turn: once per period for all daemons together. */
  async function fleetJob(name: string, everyMs: number, now: Date, run: () => Promise<void>): Promise<void> {
    await job(name, async () => {
      if (await takeJobTurn(db, { job: name, instanceId, now, everyMs })) await run();
    });
  }

  async function runDue(): Promise<void> {
    const now = clock.now();
    // Per daemon: whether a holder is gone can only be judged from its own host.
    await job('claim takeover', () => takeOverFromGone(now));
    await fleetJob('maintenance history', MAINTENANCE_HISTORY_EVERY_MS, now, () => recordMaintenance(now));
    await fleetJob('expiry', EXPIRY_EVERY_MS, now, () => expireOld(now));
    await fleetJob('retention', RETENTION_EVERY_MS, now, () => applyRetention(now));
    await fleetJob('history', RETENTION_EVERY_MS, now, () => pruneHistory(now));
  }

  const tick = () => {
    running = runDue().finally(() => {
      if (!stopped) timer = setTimeout(tick, deps.everyMs ?? 5_000);
    });
  };

  return {
    runOnce: () => (running = running.then(runDue)),
    start() {
      if (started || stopped) return;
      started = true;
      tick();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
