import { errorMessage, failureStreak, type ChannelSender, type Clock, type Database, type Logger, type Redactor } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import type { OutboxHandoff } from '../outbox/outbox.types';
import { Wakeup } from '../wakeup';
import { claimDue, nextDueAt, releaseClaims, type ClaimedDelivery } from './deliveries.repository';
import { createDeliverer } from './deliver.usecases';
import type { ClaimedDigest } from './digests.repository';
import { createOutcomeRecorder, describeDelivery, type Outcome, type RecordedOutcome } from './outcomes.usecases';
import { afterClaim, digestClaimLimit, planClaim, planSends, targetKey, type QueuedRow, type SlotLimits } from './send-slots.models';
import { createTelegramChats, type TelegramChats } from './telegram-chats.usecases';

export interface DispatcherDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** claims are recorded under this id (the daemon's liveness instance id) */
  instanceId: string;
  /** sends one delivery over its channel; its `channels` are the ones claimed (Telegram only with a bot token) */
  sender: ChannelSender;
  /** see {@link DeliverDeps.redactor} */
  redactor?: Redactor;
  /**
   * sends in flight at most; default 20: one channel may use 16, the webhook sender's connections per
   * origin (so a send never waits in the HTTP client's queue while its time limit is already running),
   * and four are left for every other channel
   */
  concurrency?: number;
  /**
   * sends in flight to one channel (one webhook, one Telegram chat) at most; default `concurrency − 4`
   * (16). A slow or hanging receiver then holds at most these slots and four are always left for every
   * other channel, while one healthy receiver taking a burst still gets all its connections.
   */
  perTargetConcurrency?: number;
  /** due deliveries claimed per transaction; default 256 */
  claimBatch?: number;
  /**
   * rows queued at most before the handoff takes no more (the rest wait for an ordinary claim);
   * default 8192: a burst's first seconds of sends, a few MB of payloads, whatever the fleet size
   */
  handoffQueue?: number;
  /**
   * TELEGRAM_GROUP_WINDOW in ms (CONTRACT §6.1); default 10 s, 0 sends each Telegram notification
   * as a message of its own. Telegram's limits are kept whatever the window.
   */
  telegramWindowMs?: number;
  /** how long a claim protects a row from other daemons; default 30 s (keep it at least twice any send's time limit) */
  leaseMs?: number;
  /** longest idle sleep in background mode; default 30 s */
  idleMs?: number;
  random?: () => number;
  /** after each recording that committed: what it recorded (for the metrics) */
  onOutcomes?: (outcomes: readonly RecordedOutcome[]) => void;
}

export interface Dispatcher {
  /**
   * Sends everything due now (and whatever becomes eligible as earlier ones finish); resolves when none
   * is left, or at once when `signal` aborts: sends still in flight are then left to {@link Dispatcher.stop}.
   */
  runDue(signal?: AbortSignal): Promise<number>;
  /** Starts delivering in the background until {@link Dispatcher.stop}. */
  start(): void;
  /** Something may be due: look now. */
  wake(): void;
  /** New deliveries handed straight to this dispatcher, claimed as they are written (see {@link OutboxHandoff}). */
  readonly handoff: OutboxHandoff;
  /**
   * Stops claiming, lets in-flight sends finish for up to `drainMs`, cuts the rest short, records
   * their outcomes and gives back every claim this instance holds.
   */
  stop(drainMs: number): Promise<void>;
}

/** What the queue holds: one webhook delivery, or one Telegram message (a digest of its chat's deliveries). */
type Sendable = ClaimedDelivery | ClaimedDigest;
type Queued = QueuedRow<Sendable>;

const isDigest = (s: Sendable): s is ClaimedDigest => 'rows' in s;
/** In-flight key: a delivery by its id, a Telegram message by its chat (one at a time per chat). */
const flightKey = (s: Sendable) => (isDigest(s) ? `chat:${s.target_id}` : `row:${s.id}`);
const describeSendable = (s: Sendable) => (isDigest(s) ? `Telegram message ${s.digestId ?? '-'} to telegram ${s.target_id} (${s.rows.length} notification(s))` : describeDelivery(s));

/**
 * The outbox dispatcher. Claims due deliveries in batches (one transaction for up to `claimBatch`
 * rows), keeps them in a queue and starts sends as the send-slot planner allows ({@link planSends});
 * a slot that frees up takes the next row at once, and the queue is refilled before it runs dry.
 * Outcomes are recorded in batches ({@link createOutcomeRecorder}). Housekeeping (takeover, expiry,
 * retention) is a job of its own.
 */
export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { db, clock, logger, instanceId } = deps;
  const limits = slotLimits(deps);
  const claimBatch = deps.claimBatch ?? 256;
  const handoffQueue = deps.handoffQueue ?? 8192;
  const channels = deps.sender.channels;
  // Telegram goes per chat, as digests; every other channel one delivery at a time.
  const telegramOn = channels.includes('telegram');
  const rowChannels = channels.filter((c) => c !== 'telegram');
  const chats = createTelegramChats({ db, clock, instanceId, leaseMs: limits.leaseMs, windowMs: deps.telegramWindowMs ?? 10_000 });
  const queue = new SendQueue();
  const inFlight = new Map<string, Promise<void>>();
  const inFlightPerTarget = new Map<string, number>();
  // Aborted only when shutdown's drain deadline passes: cuts sends still running then.
  const sendAbort = new AbortController();
  const wakeup = new Wakeup();
  const deliverer = createDeliverer({ db, clock, sender: deps.sender, redactor: deps.redactor });
  const recorder = createOutcomeRecorder({ db, clock, logger, instanceId, random: deps.random ?? Math.random, onRecorded: () => wakeup.wake(), onCommitted: deps.onOutcomes });
  const state = { loop: null as Promise<void> | null, stopping: false, halted: false, busyRescanAt: 0 };

  function launch({ delivery: d }: Queued): void {
    const key = targetKey(d);
    countTarget(inFlightPerTarget, key, 1);
    const sent = isDigest(d) ? deliverer.deliverDigest(d, sendAbort.signal) : deliverer.deliver(d, sendAbort.signal);
    const task = sent
      .then((outcome) => recorder.add(outcome))
      // The claim stays until its lease ends, then the row is sent again (same event id; a digest, the same message).
      .catch((error: unknown) => {
        logger.error(`${describeSendable(d)}: could not finish the send: ${errorMessage(error)}`);
      })
      .finally(() => {
        inFlight.delete(flightKey(d));
        countTarget(inFlightPerTarget, key, -1);
        pump();
        wakeup.wake();
      });
    inFlight.set(flightKey(d), task);
  }

  /** Starts what the planner allows; rows whose claims grew too old go back unsent. */
  function pump(): void {
    if (state.halted || queue.rows.length === 0) return;
    const plan = planSends(queue.rows, inFlightPerTarget, inFlight.size, clock.now().getTime(), limits, queue.perTarget.size);
    queue.remove(plan.release);
    queue.remove(plan.start);
    for (const row of plan.release) recorder.add(releasedUnsent(row.delivery, clock.now()));
    for (const row of plan.start) launch(row);
  }

  /** Claims another batch of deliveries, as the planner said; returns how many rows were claimed. */
  async function claimRows(plan: Extract<ReturnType<typeof planClaim>, { claim: true }>): Promise<number> {
    const now = clock.now();
    const claimed = await claimDue(db, { now, instanceId, leaseMs: limits.leaseMs, channels: rowChannels, limit: plan.limit, skipTargets: plan.skipTargets });
    state.busyRescanAt = afterClaim(plan, claimed.length, now.getTime(), state.busyRescanAt);
    const claimedUntil = now.getTime() + limits.leaseMs;
    for (const delivery of claimed) queue.push(delivery, claimedUntil);
    return claimed.length;
  }

  /** Claims up to `limit` Telegram chats that may get a message now, each with its message; returns how many rows they carry. */
  async function claimChats(limit: number): Promise<number> {
    const claimedUntil = clock.now().getTime() + limits.leaseMs;
    const claimed = await chats.claim(limit);
    for (const digest of claimed) queue.push(digest, claimedUntil);
    return claimed.reduce((n, d) => n + d.rows.length, 0);
  }

  /**
   * Claims more when the planners say so: deliveries of row-by-row channels, and Telegram chats as
   * many as free slots and the bot's own limit allow. Returns how many rows were claimed.
   */
  async function fill(): Promise<number> {
    if (state.halted) return 0;
    const rowPlan = planClaim({ queue: queue.rows, queuedPerTarget: queue.perTarget, inFlightPerTarget, limits, claimBatch, nowMs: clock.now().getTime(), busyRescanAt: state.busyRescanAt });
    const chatLimit = telegramOn ? digestClaimLimit({ queue: queue.rows, inFlight: inFlight.size, limits, botSendsLeft: chats.sendsLeft() }) : 0;
    if (!rowPlan.claim && chatLimit === 0) return 0;
    // Outcomes first: a recorded delivery makes the next one of its stream due, and a recorded
    // deactivation keeps the new batch from reading that channel as active.
    await recorder.flush();
    const claimed = (rowPlan.claim ? await claimRows(rowPlan) : 0) + (chatLimit > 0 ? await claimChats(chatLimit) : 0);
    if (claimed > 0) deliverer.newBatch();
    return claimed;
  }

  return {
    handoff: {
      instanceId,
      channels: rowChannels,
      leaseMs: limits.leaseMs,
      room: () => (state.halted || state.stopping ? 0 : Math.max(0, handoffQueue - queue.rows.length)),
      take(rows, claimedUntilMs) {
        // Stopping: the rows stay claimed until stop() gives every claim of this instance back.
        if (state.halted) return;
        for (const row of rows) queue.push(row, claimedUntilMs);
        // The channel's row is read again for these: a webhook edited meanwhile is seen.
        deliverer.newBatch();
        pump();
      },
    },
    runDue: (signal) => runUntilIdle({ fill, pump, inFlight, queue: queue.rows, recorder, halt: () => (state.halted = true) }, signal),
    start() {
      const idle = () => (queue.rows.length === 0 && inFlight.size < limits.concurrency ? nextWakeAt(db, channels, telegramOn ? chats : null, clock.now()) : Promise.resolve(null));
      state.loop ??= runInBackground({ fill, pump, wakeup, clock, logger, idleMs: deps.idleMs ?? 30_000, nextWakeAt: idle, stopping: () => state.stopping });
    },
    wake: () => wakeup.wake(),
    async stop(drainMs) {
      state.stopping = true;
      state.halted = true;
      wakeup.wake();
      await state.loop;
      // Claimed but never started: released below with the rest.
      queue.clear();
      await drain(inFlight, drainMs, sendAbort, logger);
      // Recorded before the claims go: failures are rescheduled only while we hold the claim.
      await recorder.flush();
      const released = await releaseClaims(db, instanceId, clock.now());
      if (released > 0) logger.info(`Released ${released} delivery claim(s)`);
    },
  };
}

/** Sends in flight at most (default 20), to one channel (default four fewer), and the claims' lease (default 30 s). */
function slotLimits(deps: Pick<DispatcherDeps, 'concurrency' | 'perTargetConcurrency' | 'leaseMs'>): SlotLimits {
  const concurrency = deps.concurrency ?? 20;
  return { concurrency, perTarget: deps.perTargetConcurrency ?? Math.max(1, concurrency - 4), leaseMs: deps.leaseMs ?? 30_000 };
}

/** When something may be due next: a delivery's retry, a claim running out, a chat's window or pacing bound, the bot's own limit. */
async function nextWakeAt(db: Kysely<Database>, channels: DispatcherDeps['sender']['channels'], chats: TelegramChats | null, now: Date): Promise<Date | null> {
  const times = [await nextDueAt(db, now, channels), chats ? await chats.nextReadyAt(now) : null];
  const known = times.filter((t): t is Date => t !== null).map((t) => t.getTime());
  return known.length === 0 ? null : new Date(Math.min(...known));
}

/**
 * The claimed rows waiting to be sent, in the order they were claimed, and how many each channel
 * (`webhook:3`) has: how many channels the send-slot planner may find rows of.
 */
class SendQueue {
  readonly rows: Queued[] = [];
  readonly perTarget = new Map<string, number>();

  push(delivery: Sendable, claimedUntil: number): void {
    this.rows.push({ delivery, claimedUntil });
    countTarget(this.perTarget, targetKey(delivery), 1);
  }

  /** Takes planned rows out; they are near the front, so each is found in a few steps. */
  remove(rows: readonly Queued[]): void {
    for (const row of rows) {
      const at = this.rows.indexOf(row);
      if (at >= 0) this.rows.splice(at, 1);
      countTarget(this.perTarget, targetKey(row.delivery), -1);
    }
  }

  clear(): void {
    this.rows.length = 0;
    this.perTarget.clear();
  }
}

/** Sends in flight per target, counted up and down; a target with none is dropped. */
function countTarget(perTarget: Map<string, number>, key: string, by: number): void {
  const n = (perTarget.get(key) ?? 0) + by;
  if (n > 0) perTarget.set(key, n);
  else perTarget.delete(key);
}

/** A sendable given back unsent: the outcome of every delivery it holds. */
function releasedUnsent(d: Sendable, at: Date): Outcome | Outcome[] {
  if (!isDigest(d)) return { kind: 'released', delivery: d, at };
  return d.rows.map((r, i) => ({ kind: 'released' as const, delivery: r, at, digest: { id: d.digestId, size: d.rows.length, lead: i === 0, sendStarted: false } }));
}

interface BackgroundParts {
  fill(): Promise<number>;
  pump(): void;
  wakeup: Wakeup;
  clock: Clock;
  logger: Logger;
  idleMs: number;
  /** when to look again while nothing is queued; null: only when woken (or after `idleMs`) */
  nextWakeAt(): Promise<Date | null>;
  stopping(): boolean;
}

/** The background loop: claim and start; while sends run their completions wake it, otherwise it sleeps until something comes due. */
async function runInBackground(parts: BackgroundParts): Promise<void> {
  const { clock, wakeup } = parts;
  const rounds = failureStreak(parts.logger, 'Dispatcher');
  while (!parts.stopping()) {
    try {
      const claimed = await parts.fill();
      rounds.succeeded();
      parts.pump();
      if (claimed > 0 || parts.stopping()) continue;
      const now = clock.now();
      const due = await parts.nextWakeAt();
      await wakeup.sleep(due === null ? parts.idleMs : Math.min(parts.idleMs, Math.max(0, due.getTime() - now.getTime()) + 1));
    } catch (error) {
      rounds.failed(error);
      await wakeup.sleep(Math.min(5_000, 250 * 2 ** Math.min(rounds.failures, 5)));
    }
  }
}

interface RunParts {
  fill(): Promise<number>;
  pump(): void;
  inFlight: ReadonlyMap<string, Promise<void>>;
  queue: readonly Queued[];
  recorder: { flush(): Promise<void>; readonly pending: number };
  /** no new sends from now on */
  halt(): void;
}

/**
 * `runDue`: claims and sends until nothing is left. An abort ends the wait for sends in flight at
 * once: draining them, bounded, is `stop()`'s job.
 */
async function runUntilIdle(parts: RunParts, signal?: AbortSignal): Promise<number> {
  let endWait!: () => void;
  const aborted = new Promise<void>((resolve) => (endWait = resolve));
  const onAbort = () => {
    parts.halt();
    endWait();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let total = 0;
  try {
    while (!signal?.aborted) {
      const claimed = await parts.fill();
      total += claimed;
      parts.pump();
      if (parts.inFlight.size > 0) await Promise.race([...parts.inFlight.values(), aborted]);
      else if (claimed === 0 && parts.queue.length === 0 && parts.recorder.pending === 0) break;
      // else: record what is buffered (fill does), which may make more rows due
    }
    if (!signal?.aborted) {
      await Promise.allSettled(parts.inFlight.values());
      await parts.recorder.flush();
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return total;
}

/** Lets sends in flight finish for up to `drainMs`, then cuts the rest short through `sendAbort`. */
async function drain(inFlight: ReadonlyMap<string, Promise<void>>, drainMs: number, sendAbort: AbortController, logger: Logger): Promise<void> {
  if (inFlight.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
  await Promise.race([Promise.allSettled(inFlight.values()), deadline]);
  clearTimeout(timer);
  if (inFlight.size === 0) return;
  logger.warn(`Stopping: ${inFlight.size} send(s) still running after ${drainMs / 1000}s, cutting them short`);
  sendAbort.abort();
  // Senders honour the abort signal; the bound only guards against one that does not.
  await Promise.race([Promise.allSettled(inFlight.values()), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
}
