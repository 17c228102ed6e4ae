import type {
  ChannelKind,
  Clock,
  Database,
  Logger,
  MachineEventPayload,
  Redactor,
  SendResult,
  TelegramSender,
  WebhookSender,
} from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import {
  findTelegramRecipient,
  findWebhook,
  recordTelegramFailure,
  recordTelegramSuccess,
  recordWebhookFailure,
  recordWebhookSuccess,
} from './channels.repository';
import { hostname } from 'node:os';
import { isClaimHolderGone, pidAlive, type Host } from './claims.models';
import {
  claimHolders,
  claimDue,
  markDelivered,
  markFinal,
  nextDueAt,
  releaseClaim,
  releaseClaims,
  reschedule,
  type ClaimedDelivery,
} from './deliveries.repository';
import { MISCONFIGURED_RETRY_MS, planRetry } from './retry.models';
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
  /** secrets met while sending (webhook secrets) are registered here so no log line shows them */
  redactor?: Redactor;
  /** sends in flight at most; default 8 */
  concurrency?: number;
  /** how long a claim protects a row from other daemons; default 30 s (keep it well above any send timeout) */
  leaseMs?: number;
  /** this process, for recognising claims of daemon instances that are gone; default the real host */
  host?: Host;
  /** longest idle sleep in background mode; default 30 s */
  idleMs?: number;
  random?: () => number;
}

export interface Dispatcher {
  /** Sends everything due now (and whatever becomes eligible as earlier ones finish); resolves when none is left. */
  runDue(signal?: AbortSignal): Promise<number>;
  /** Starts delivering in the background until {@link Dispatcher.stop}. */
  start(): void;
  /** Something may be due: look now. */
  wake(): void;
  /**
   * Stops claiming, lets in-flight sends finish for up to `drainMs`, cuts the rest short, and gives
   * back every claim this instance holds.
   */
  stop(drainMs: number): Promise<void>;
}

const OUTCOME_VERB: Record<SendResult['kind'], string> = {
  delivered: 'delivered',
  retryable: 'failed (will retry)',
  permanent: 'failed',
  gone: 'failed (channel gone)',
  misconfigured: 'failed (misconfigured)',
};

function describe(d: ClaimedDelivery): string {
  return `Delivery ${d.id} (${d.event_type} ${d.event_id} for machine ${d.machine_id}) to ${d.channel} ${d.target_id}`;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const { db, clock, logger, instanceId } = deps;
  const concurrency = deps.concurrency ?? 8;
  const leaseMs = deps.leaseMs ?? 30_000;
  const host: Host = deps.host ?? { hostname: hostname(), pid: process.pid, pidAlive };
  let lastTakeover = -Infinity;
  const idleMs = deps.idleMs ?? 30_000;
  const random = deps.random ?? Math.random;
  const channels: ChannelKind[] = deps.telegram ? ['webhook', 'telegram'] : ['webhook'];
  const inFlight = new Map<number, Promise<void>>();
  // Aborted only when shutdown's drain deadline passes: cuts sends still running then.
  const sendAbort = new AbortController();
  const wakeup = new Wakeup();
  let loop: Promise<void> | null = null;
  let stopping = false;
  let lastMisconfiguredLog = -Infinity;

  async function send(d: ClaimedDelivery, signal: AbortSignal): Promise<SendResult | 'target-missing' | 'target-inactive'> {
    if (d.channel === 'webhook') {
      const hook = await findWebhook(db, d.target_id);
      if (!hook) return 'target-missing';
      if (hook.is_active !== 1) return 'target-inactive';
      deps.redactor?.add(hook.secret);
      return deps.webhook.send({ url: hook.url, secret: hook.secret }, d.event_id, d.payload, signal);
    }
    const chat = await findTelegramRecipient(db, d.target_id);
    if (!chat) return 'target-missing';
    if (chat.is_active !== 1) return 'target-inactive';
    if (!deps.telegram) return { kind: 'misconfigured', error: 'Telegram is off (TELEGRAM_BOT_TOKEN is not set)' };
    const payload = JSON.parse(d.payload) as MachineEventPayload;
    return deps.telegram.sendMessage(chat.chat_id, deps.renderTelegram(payload), signal);
  }

  async function bookkeep(d: ClaimedDelivery, result: SendResult, now: Date): Promise<void> {
    const success = result.kind === 'delivered';
    const deactivate = result.kind === 'gone';
    if (d.channel === 'webhook') {
      if (success) await recordWebhookSuccess(db, d.target_id, now);
      else await recordWebhookFailure(db, d.target_id, result.error, now, deactivate);
    } else if (success) {
      await recordTelegramSuccess(db, d.target_id, now);
    } else {
      await recordTelegramFailure(db, d.target_id, result.error, now, deactivate);
    }
    if (result.kind === 'gone') logger.warn(`${d.channel === 'webhook' ? 'Webhook' : 'Telegram chat'} ${d.target_id} deactivated: ${result.error}`);
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    let result: SendResult | 'target-missing' | 'target-inactive';
    try {
      result = await send(d, sendAbort.signal);
    } catch (error) {
      // Senders report failures as results; a throw is unexpected, but the delivery must not be lost.
      const text = `send failed: ${error instanceof Error ? error.message : String(error)}`;
      result = { kind: 'retryable', error: deps.redactor ? deps.redactor.redact(text) : text };
    }
    const now = clock.now();
    if (sendAbort.signal.aborted && typeof result !== 'string' && result.kind !== 'delivered') {
      // Cut short by shutdown: not the receiver's fault, so no attempt is counted.
      await releaseClaim(db, d.id, instanceId, now);
      return;
    }
    if (result === 'target-missing' || result === 'target-inactive') {
      const what = result === 'target-missing' ? 'no longer exists' : 'is inactive';
      await markFinal(db, d.id, instanceId, 'failed', `${d.channel} ${d.target_id} ${what}`, now, false);
      logger.info(`${describe(d)} not sent: the ${d.channel === 'webhook' ? 'webhook' : 'Telegram chat'} ${what}`);
      return;
    }
    // Only after the receiver accepted it: a crash before this line means a resend, never a loss.
    if (result.kind === 'delivered') await markDelivered(db, d.id, now);
    else await recordFailure(d, result, now);
    await bookkeep(d, result, now);
    if (result.kind === 'delivered' && d.attempts > 0) logger.info(`${describe(d)} delivered after ${d.attempts + 1} attempts`);
    else logger.debug(`${describe(d)} ${OUTCOME_VERB[result.kind]}`);
  }

  async function recordFailure(d: ClaimedDelivery, result: Exclude<SendResult, { kind: 'delivered' }>, now: Date): Promise<void> {
    if (result.kind === 'permanent' || result.kind === 'gone') {
      await markFinal(db, d.id, instanceId, 'failed', result.error, now, true);
      logger.warn(`${describe(d)} failed for good: ${result.error}`);
      return;
    }
    if (result.kind === 'misconfigured' && now.getTime() - lastMisconfiguredLog >= 10 * 60_000) {
      lastMisconfiguredLog = now.getTime();
      logger.error(`${describe(d)} refused because our configuration is wrong: ${result.error}. Deliveries are kept and retried.`);
    }
    const plan = planRetry({
      now,
      occurredAt: d.occurred_at,
      failedAttempts: d.attempts + 1,
      retryAfterMs: result.kind === 'retryable' ? result.retryAfterMs : undefined,
      minDelayMs: result.kind === 'misconfigured' ? MISCONFIGURED_RETRY_MS : undefined,
      random,
    });
    if (plan.kind === 'dead') {
      await markFinal(db, d.id, instanceId, 'dead', result.error, now, true);
      logger.error(`${describe(d)} is dead: not delivered within 24h of the event after ${d.attempts + 1} attempts; last error: ${result.error}`);
      return;
    }
    await reschedule(db, d.id, instanceId, plan.at, result.error, now);
    logger.info(`${describe(d)} failed (attempt ${d.attempts + 1}): ${result.error}; next try at ${plan.at.toISOString()}`);
  }

  /** Frees the claims of instances that are certainly gone (at most every few seconds). */
  async function takeOverFromGone(now: Date): Promise<void> {
    if (now.getTime() - lastTakeover < 5_000) return;
    lastTakeover = now.getTime();
    for (const holder of await claimHolders(db, instanceId, now)) {
      if (!isClaimHolderGone(holder, host)) continue;
      const released = await releaseClaims(db, holder.instance_id, now);
      if (released > 0) logger.info(`Took over ${released} delivery claim(s) of daemon instance ${holder.instance_id}, which is no longer running`);
    }
  }

  /** Starts sends for newly claimed rows; returns how many were claimed. */
  async function fill(): Promise<number> {
    const free = concurrency - inFlight.size;
    if (free <= 0) return 0;
    await takeOverFromGone(clock.now());
    const claimed = await claimDue(db, { now: clock.now(), instanceId, leaseMs, channels, limit: free });
    for (const d of claimed) {
      const task = deliver(d)
        .catch((error: unknown) => {
          // The claim stays until its lease ends, then the row is sent again (same event id).
          logger.error(`${describe(d)}: could not record the outcome: ${error instanceof Error ? error.message : String(error)}`);
        })
        .finally(() => {
          inFlight.delete(d.id);
          wakeup.wake();
        });
      inFlight.set(d.id, task);
    }
    return claimed.length;
  }

  async function background(): Promise<void> {
    while (!stopping) {
      try {
        while (!stopping && (await fill()) > 0) {
          /* keep claiming while rows are due and slots are free */
        }
        if (stopping) break;
        const now = clock.now();
        const due = inFlight.size >= concurrency ? null : await nextDueAt(db, now, channels);
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
      let total = 0;
      while (!signal?.aborted) {
        const claimed = await fill();
        total += claimed;
        if (claimed === 0 && inFlight.size === 0) break;
        await Promise.race(inFlight.values());
      }
      await Promise.allSettled(inFlight.values());
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
      wakeup.wake();
      await loop;
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
      const released = await releaseClaims(db, instanceId, clock.now());
      if (released > 0) logger.info(`Released ${released} delivery claim(s)`);
    },
  };
}
