import { hostname } from 'node:os';
import type { ChannelKind, Clock, Database, Logger, MachineEventPayload, Redactor, SendResult, TelegramSender, WebhookSender } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { findChannelTarget, type ChannelTarget } from './channels.repository';
import { claimLeftToSend, isClaimHolderGone, pidAlive, type Host } from './claims.models';
import { claimDue, claimHolders, expireStale, nextDueAt, releaseClaims, type ClaimedDelivery } from './deliveries.repository';
import { deleteFinishedEvents } from './events.repository';
import { DELIVERY_TTL_MS } from './retry.models';
import { createOutcomeRecorder, describeDelivery } from './outcomes.usecases';
import { Wakeup } from './wakeup';

export interface DispatcherDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  /** claims are recorded under this id (the daemon's liveness instance id) */
  instanceId: string;
  webhook: WebhookSender;
  /** null when no bot token is configured: Telegram deliveries then wait, untouched */
  telegram: TelegramSender | null;
  renderTelegram: (payload: MachineEventPayload) => string;
  /**
   * the process's redactor (the bot token), applied to an unexpected throw from a sender; webhook
   * secrets are not registered with it: the webhook sender scrubs its own target's secret from its
   * errors, and a throw is scrubbed of its target's secret here
   */
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
  /** how long a claim protects a row from other daemons; default 30 s (keep it at least twice any send's time limit) */
  leaseMs?: number;
  /** this process, for recognising claims of daemon instances that are gone; default the real host */
  host?: Host;
  /**
   * a holder whose pid is gone still keeps its claims until its liveness beat is this old; default
   * 10 s (the daemon passes {@link holderStaleMs} of its interval: it beats once per check)
   */
  holderStaleMs?: number;
  /** events whose deliveries are all final are deleted this long after they happened; default 30 days */
  retentionMs?: number;
  /** longest idle sleep in background mode; default 30 s */
  idleMs?: number;
  random?: () => number;
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
  /**
   * Stops claiming, lets in-flight sends finish for up to `drainMs`, cuts the rest short, records
   * their outcomes and gives back every claim this instance holds.
   */
  stop(drainMs: number): Promise<void>;
}

interface Queued {
  delivery: ClaimedDelivery;
  claimedUntil: number;
}

type SendOutcome = SendResult | 'target-missing' | 'target-inactive';

/**
 * The outbox dispatcher. Claims due deliveries in batches (one transaction for up to `claimBatch`
 * rows), keeps them in a queue and sends them with at most `concurrency` in flight; a slot that
 * frees up takes the next row at once, and the queue is refilled before it runs dry. Outcomes are
 * recorded in batches too (see {@link createOutcomeRecorder}). Channel rows (URL, secret, active) are
 * read once per claim batch.
 */
/** How long a claim that passed over busy channels and found nothing else keeps the next one waiting. */
const BUSY_RESCAN_MS = 100;

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { db, clock, logger, instanceId } = deps;
  const concurrency = deps.concurrency ?? 20;
  const perTarget = deps.perTargetConcurrency ?? Math.max(1, concurrency - 4);
  const claimBatch = deps.claimBatch ?? 256;
  const leaseMs = deps.leaseMs ?? 30_000;
  const host: Host = deps.host ?? { hostname: hostname(), pid: process.pid, pidAlive };
  const idleMs = deps.idleMs ?? 30_000;
  const staleMs = deps.holderStaleMs ?? 10_000;
  const channels: ChannelKind[] = deps.telegram ? ['webhook', 'telegram'] : ['webhook'];
  const queue: Queued[] = [];
  const inFlight = new Map<number, Promise<void>>();
  /** sends in flight per `channel:target_id` */
  const inFlightPerTarget = new Map<string, number>();
  const targetKey = (d: ClaimedDelivery) => `${d.channel}:${d.target_id}`;
  const saturated = (d: ClaimedDelivery) => (inFlightPerTarget.get(targetKey(d)) ?? 0) >= perTarget;
  // Aborted only when shutdown's drain deadline passes: cuts sends still running then.
  const sendAbort = new AbortController();
  const wakeup = new Wakeup();
  const recorder = createOutcomeRecorder({ db, clock, logger, instanceId, random: deps.random ?? Math.random, onRecorded: () => wakeup.wake() });
  let targets = new Map<string, Promise<ChannelTarget | undefined>>();
  let lastTakeover = -Infinity;
  let lastExpiry = -Infinity;
  let lastRetention = -Infinity;
  const retentionMs = deps.retentionMs ?? 30 * 24 * 3600_000;
  let loop: Promise<void> | null = null;
  let stopping = false;
  /** no new sends: shutdown, or `runDue` aborted */
  let halted = false;

  /** The delivery's channel row, read once per claim batch (a batch to one webhook reads it once). */
  function targetOf(d: ClaimedDelivery): Promise<ChannelTarget | undefined> {
    const key = `${d.channel}:${d.target_id}`;
    let target = targets.get(key);
    if (!target) {
      target = findChannelTarget(db, d.channel, d.target_id);
      targets.set(key, target);
    }
    return target;
  }

  async function send(d: ClaimedDelivery, signal: AbortSignal): Promise<SendOutcome> {
    const target = await targetOf(d);
    if (!target) return 'target-missing';
    if (!target.active) return 'target-inactive';
    if (target.channel === 'webhook') {
      return deps.webhook.send({ url: target.url, secret: target.secret }, d.event_id, d.payload, signal);
    }
    if (!deps.telegram) return { kind: 'misconfigured', error: 'Telegram is off (TELEGRAM_BOT_TOKEN is not set)' };
    const payload = JSON.parse(d.payload) as MachineEventPayload;
    return deps.telegram.sendMessage(target.chatId, deps.renderTelegram(payload), signal);
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    let result: SendOutcome;
    try {
      result = await send(d, sendAbort.signal);
    } catch (error) {
      // Senders report failures as results; a throw is unexpected, but the delivery must not be lost.
      let text = `send failed: ${error instanceof Error ? error.message : String(error)}`;
      const target = await targetOf(d).catch(() => undefined);
      if (target?.active && target.channel === 'webhook' && target.secret) text = text.split(target.secret).join('[redacted]');
      result = { kind: 'retryable', error: deps.redactor ? deps.redactor.redact(text) : text };
    }
    const at = clock.now();
    if (sendAbort.signal.aborted && typeof result !== 'string' && result.kind !== 'delivered') {
      // Cut short by shutdown: not the receiver's fault, so no attempt is counted.
      recorder.add({ kind: 'released', delivery: d, at });
    } else if (typeof result === 'string') {
      recorder.add({ kind: 'not-sent', delivery: d, reason: result, at });
    } else {
      // A gone channel is deactivated when the outcome is recorded; the rest of this batch must not wait for that.
      if (result.kind === 'gone') targets.set(`${d.channel}:${d.target_id}`, Promise.resolve({ active: false }));
      recorder.add({ kind: 'sent', delivery: d, result, at });
    }
  }

  /**
   * Starts sends from the queue while slots are free, oldest first, passing over rows whose channel
   * already has its share of sends in flight (they keep their place). Order within a stream holds: a
   * claim never holds two rows of one (channel, target, machine) stream.
   */
  function pump(): void {
    for (let i = 0; !halted && inFlight.size < concurrency && i < queue.length; ) {
      const { delivery: d, claimedUntil } = queue[i]!;
      const now = clock.now();
      if (!claimLeftToSend(claimedUntil, now.getTime(), leaseMs)) {
        queue.splice(i, 1);
        recorder.add({ kind: 'released', delivery: d, at: now });
        continue;
      }
      if (saturated(d)) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      const key = targetKey(d);
      inFlightPerTarget.set(key, (inFlightPerTarget.get(key) ?? 0) + 1);
      const task = deliver(d)
        .catch((error: unknown) => {
          // The claim stays until its lease ends, then the row is sent again (same event id).
          logger.error(`${describeDelivery(d)}: could not finish the send: ${error instanceof Error ? error.message : String(error)}`);
        })
        .finally(() => {
          inFlight.delete(d.id);
          const left = (inFlightPerTarget.get(key) ?? 1) - 1;
          if (left > 0) inFlightPerTarget.set(key, left);
          else inFlightPerTarget.delete(key);
          pump();
          wakeup.wake();
        });
      inFlight.set(d.id, task);
    }
  }

  /** Frees the claims of instances that are certainly gone (at most every few seconds). */
  async function takeOverFromGone(now: Date): Promise<void> {
    if (now.getTime() - lastTakeover < 5_000) return;
    lastTakeover = now.getTime();
    for (const holder of await claimHolders(db, instanceId, now)) {
      if (!isClaimHolderGone(holder, host, now, staleMs)) continue;
      const released = await releaseClaims(db, holder.instance_id, now);
      if (released > 0) logger.info(`Took over ${released} delivery claim(s) of daemon instance ${holder.instance_id}, which is no longer running`);
    }
  }

  /**
   * Ends deliveries still pending 24 h after their event (at most once a minute, 500 rows a
   * statement): one error line per batch, not per row, since a channel that is off ends them by the thousand.
   */
  async function expireOld(now: Date): Promise<void> {
    if (now.getTime() - lastExpiry < 60_000) return;
    lastExpiry = now.getTime();
    for (;;) {
      const dead = await expireStale(db, now, new Date(now.getTime() - DELIVERY_TTL_MS), 500);
      if (dead.length === 0) return;
      const telegram = dead.filter((d) => d.channel === 'telegram').length;
      const off = telegram > 0 && !deps.telegram ? ' (Telegram is off: TELEGRAM_BOT_TOKEN is not set)' : '';
      logger.error(
        `${dead.length} deliveries are dead: still not delivered 24h after their event (${dead.length - telegram} webhook, ${telegram} Telegram${off}; first: delivery ${dead[0]!.id})`,
      );
      if (dead.length < 500) return;
    }
  }

  /**
   * Retention: deletes events older than `retentionMs` whose deliveries are all final (the deliveries
   * cascade), at most once an hour, 200 a statement with a yield between, so the history of a busy
   * fleet neither grows forever nor holds the write lock for long.
   */
  async function applyRetention(now: Date): Promise<void> {
    if (now.getTime() - lastRetention < 3600_000) return;
    lastRetention = now.getTime();
    const cutoff = new Date(now.getTime() - retentionMs);
    let total = 0;
    for (let n = 200; n === 200 && !halted; ) {
      n = await deleteFinishedEvents(db, cutoff, 200);
      total += n;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (total > 0) logger.info(`Deleted ${total} event(s) older than ${Math.round(retentionMs / 86_400_000)} days, with their deliveries`);
  }

  /** Before this time (ms) no claim is made while some channel has all its slots taken (see fill). */
  let busyRescanAt = 0;

  /** Claims another batch when the queue runs low; returns how many rows were claimed. */
  async function fill(): Promise<number> {
    // Rows waiting for a busy channel do not count: the other channels' rows must still be claimed.
    // The queue stays bounded all the same.
    if (halted || queue.length >= claimBatch || queue.filter((q) => !saturated(q.delivery)).length >= concurrency) return 0;
    // Channels with all their slots taken are left to later claims: their rows would only wait here.
    const busy = [...inFlightPerTarget].filter(([, n]) => n >= perTarget).map(([key]) => {
      const [channel, targetId] = key.split(':');
      return { channel: channel as ChannelKind, targetId: Number(targetId) };
    });
    // A claim that must pass over busy channels walks all their due rows to find others' (10,000 in a
    // burst to one receiver). When such a claim found nothing, the next one waits a little: other
    // channels' new rows are then claimed within BUSY_RESCAN_MS, and a burst costs no rescan (nor an
    // early outcome flush) per send.
    if (busy.length > 0 && clock.now().getTime() < busyRescanAt) return 0;
    // Outcomes first: a recorded delivery makes the next one of its stream due, and a recorded
    // deactivation keeps the new batch from reading that channel as active.
    await recorder.flush();
    const now = clock.now();
    await takeOverFromGone(now);
    await expireOld(now);
    await applyRetention(now);
    const claimed = await claimDue(db, { now, instanceId, leaseMs, channels, limit: claimBatch - queue.length, skipTargets: busy });
    if (claimed.length === 0) {
      if (busy.length > 0) busyRescanAt = now.getTime() + BUSY_RESCAN_MS;
      return 0;
    }
    targets = new Map();
    const claimedUntil = now.getTime() + leaseMs;
    for (const delivery of claimed) queue.push({ delivery, claimedUntil });
    return claimed.length;
  }

  async function background(): Promise<void> {
    while (!stopping) {
      try {
        const claimed = await fill();
        pump();
        if (claimed > 0 || stopping) continue;
        const now = clock.now();
        // While sends are running, their completions wake us; otherwise sleep until something comes due.
        const idle = queue.length === 0 && inFlight.size < concurrency;
        const due = idle ? await nextDueAt(db, now, channels) : null;
        const wait = due === null ? idleMs : Math.min(idleMs, Math.max(0, due.getTime() - now.getTime()) + 1);
        await wakeup.sleep(wait);
      } catch (error) {
        logger.error(`Dispatcher: ${error instanceof Error ? error.message : String(error)}`);
        await wakeup.sleep(1_000);
      }
    }
  }

  return {
    async runDue(signal) {
      // An abort ends the wait for sends in flight at once: draining them, bounded, is stop()'s job.
      let endWait!: () => void;
      const aborted = new Promise<void>((resolve) => (endWait = resolve));
      const onAbort = () => {
        halted = true;
        endWait();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let total = 0;
      try {
        while (!signal?.aborted) {
          const claimed = await fill();
          total += claimed;
          pump();
          if (inFlight.size > 0) await Promise.race([...inFlight.values(), aborted]);
          else if (claimed === 0 && queue.length === 0 && recorder.pending === 0) break;
          // else: record what is buffered (fill does), which may make more rows due
        }
        // Aborted: sends still running are left to stop(drainMs), which bounds them and gives back the rest.
        if (!signal?.aborted) {
          await Promise.allSettled(inFlight.values());
          await recorder.flush();
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      return total;
    },
    start() {
      if (!loop) loop = background();
    },
    wake() {
      wakeup.wake();
    },
    async stop(drainMs) {
      stopping = true;
      halted = true;
      wakeup.wake();
      await loop;
      queue.length = 0; // claimed but never started: released below with the rest
      if (inFlight.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
        await Promise.race([Promise.allSettled(inFlight.values()), deadline]);
        clearTimeout(timer);
      }
      if (inFlight.size > 0) {
        logger.warn(`Stopping: ${inFlight.size} send(s) still running after ${drainMs / 1000}s, cutting them short`);
        sendAbort.abort();
        // Senders honour the abort signal; the bound only guards against one that does not.
        await Promise.race([Promise.allSettled(inFlight.values()), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      }
      // Recorded before the claims go: failures are rescheduled only while we hold the claim.
      await recorder.flush();
      const released = await releaseClaims(db, instanceId, clock.now());
      if (released > 0) logger.info(`Released ${released} delivery claim(s)`);
    },
  };
}
