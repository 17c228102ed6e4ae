import { errorMessage, type ChannelKind, type Clock, type Database, type Logger, type SendResult } from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import { planChannelUpdates, type ChannelOutcome } from './channels.models';
import { channelWasFailing, recordChannelOutcome } from './channels.repository';
import { bringForwardWaiting, markDelivered, markFinal, releaseClaim, reschedule, type ClaimedDelivery } from './deliveries.repository';
import { settleChat, type ChatSettlement } from './digests.repository';
import { noteFailure, type FailureNote } from './failures.models';
import { MISCONFIGURED_RETRY_MS, planRetry } from './retry.models';

/**
 * The Telegram message a delivery went in with others (a digest). Its outcome is the message's: the
 * `lead` delivery (its first) speaks for the message in the log and on the channel, the others only
 * settle their own rows.
 */
export interface DigestRef {
  /** telegram_digests.id; null when no message was planned (the chat is gone or inactive) */
  id: number | null;
  /** deliveries the message carries */
  size: number;
  lead: boolean;
  /** false when the message was given back before its request started (it then counts for no limit) */
  sendStarted?: boolean;
}

/** What became of one claimed delivery, waiting to be recorded. */
export type Outcome = (
  /** the notifier answered (`at`: when) */
  | { kind: 'sent'; delivery: ClaimedDelivery; result: SendResult; at: Date }
  /** its channel was deleted or deactivated: nothing was sent */
  | { kind: 'not-sent'; delivery: ClaimedDelivery; reason: 'target-missing' | 'target-inactive'; at: Date }
  /** given back without counting an attempt: cut short by shutdown, or its claim grew too old to start a send */
  | { kind: 'released'; delivery: ClaimedDelivery; at: Date }
) & { digest?: DigestRef };

/** How a recorded attempt ended, as the metrics count it (CONTRACT §7.1 `outcome`). */
export type DeliveryOutcome = 'delivered' | 'retried' | 'failed' | 'dead';

/** One outcome that was committed (an outcome another daemon had already recorded is not one). */
export interface RecordedOutcome {
  channel: ChannelKind;
  outcome: DeliveryOutcome;
  /** for `delivered`: from the event to the receiver's answer */
  latencyMs?: number;
}

export interface OutcomeRecorder {
  /**
   * Buffers outcomes; they are recorded soon, together with the others that arrive meanwhile. The
   * outcomes of one digest are passed together and recorded in one transaction.
   */
  add(outcome: Outcome | readonly Outcome[]): void;
  /** Records everything added so far (after any recording in progress). Never rejects: failures are logged. */
  flush(): Promise<void>;
  /** outcomes added and not recorded yet */
  readonly pending: number;
}

export interface OutcomeRecorderDeps {
  db: Kysely<Database>;
  clock: Clock;
  logger: Logger;
  instanceId: string;
  random: () => number;
  /** after each recording: the next delivery of a stream may be due now */
  onRecorded?: () => void;
  /** after each commit: what it recorded (for the metrics) */
  onCommitted?: (outcomes: readonly RecordedOutcome[]) => void;
  /**
   * how long outcomes are gathered before they are recorded together; default 10 ms, and four
   * times that while outcomes stream in (the last batch held at least {@link STREAMING_BATCH}).
   * Longer means fewer transactions, and more resends (same event ids) if the process dies in that window.
   */
  gatherMs?: number;
  /** outcomes recorded at once at most; more are recorded right away; default 256 */
  maxBatch?: number;
}

export function describeDelivery(d: ClaimedDelivery): string {
  return `Delivery ${d.id} (${d.event_type} ${d.event_id} for machine ${d.machine_id}) to ${d.channel} ${d.target_id}`;
}

/** A delivery, or the Telegram message it went in with others, as log lines name it. */
function describeOutcome(o: Outcome): string {
  const d = o.delivery;
  if (!o.digest || o.digest.size === 1 || o.digest.id === null) return describeDelivery(d);
  return `Telegram message ${o.digest.id} (${o.digest.size} notifications, first: ${d.event_type} for machine ${d.machine_id}) to telegram ${d.target_id}`;
}

/** Whether this outcome writes log lines and channel bookkeeping: every delivery on its own, or a digest's lead. */
const speaks = (o: Outcome) => !o.digest || o.digest.lead;

const OUTCOME_VERB: Record<SendResult['kind'] | 'not-sent' | 'released', string> = {
  delivered: 'delivered',
  retryable: 'failed (will retry)',
  permanent: 'failed',
  gone: 'failed (channel gone)',
  misconfigured: 'failed (misconfigured)',
  'not-sent': 'not sent (channel deleted or inactive)',
  released: 'given back unsent',
};

/** `12 delivered, 1 failed (will retry)` */
function summarize(batch: readonly Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of batch) {
    const verb = OUTCOME_VERB[o.kind === 'sent' ? o.result.kind : o.kind];
    counts.set(verb, (counts.get(verb) ?? 0) + 1);
  }
  return [...counts].map(([verb, n]) => `${n} ${verb}`).join(', ');
}

/** What recording one batch needs besides the batch: the log lines it writes, and when misconfiguration last shouted. */
interface RecordingContext {
  trx: Transaction<Database>;
  logger: Logger;
  instanceId: string;
  random: () => number;
  /** the last time a "our configuration is wrong" error line was written (ms); at most one per 10 minutes */
  loud: { lastMisconfiguredAt: number };
  /** log lines to write once the transaction commits */
  logs: Array<() => void>;
  /** per Telegram chat that had a message in this batch: what to record on its pacing row */
  chats: Map<number, ChatSettlement>;
  /** what the transaction recorded, per delivery row (a digest's members too), reported once it commits */
  recorded: RecordedOutcome[];
}

const MISCONFIGURED_LOG_EVERY_MS = 10 * 60_000;

/** A permanent failure (4xx, or the channel is gone): the delivery ends `failed`. */
async function recordPermanent(ctx: RecordingContext, o: Outcome, error: string, at: Date): Promise<void> {
  const d = o.delivery;
  if (!(await markFinal(ctx.trx, { id: d.id, instanceId: ctx.instanceId, status: 'failed', error, now: at, attempted: true }))) return;
  ctx.recorded.push({ channel: d.channel, outcome: 'failed' });
  if (speaks(o)) ctx.logs.push(() => ctx.logger.warn(`${describeOutcome(o)} failed for good: ${error}`));
}

type RetryableResult = Extract<SendResult, { kind: 'retryable' | 'misconfigured' }>;

/**
 * The line for a failed attempt that will be retried: a warning for the delivery's first failure and
 * for the first failure of each new kind (a timeout turning into HTTP 503), so `journalctl -p warning`
 * shows every delivery in trouble once per way it fails; the same failure again is an info line.
 */
function retryLine(o: Outcome, result: RetryableResult, note: FailureNote, nextAt: Date): { level: 'warn' | 'info'; text: string } {
  const attempt = `attempt ${o.delivery.attempts + 1}`;
  const next = `next try at ${nextAt.toISOString()}`;
  if (note.previous === undefined || !note.isNew) return { level: note.isNew ? 'warn' : 'info', text: `${describeOutcome(o)} failed (${attempt}): ${result.error}; ${next}` };
  return { level: 'warn', text: `${describeOutcome(o)} now fails differently (${attempt}): ${result.error} (before: ${note.previous}); ${next}` };
}

/**
 * A failure worth retrying: rescheduled by the retry plan, or `dead` past the 24 h deadline. Writes
 * nothing to the log when the write did not apply (another daemon had the row by then: its outcome
 * is that daemon's to log).
 */
async function recordRetryable(ctx: RecordingContext, o: Outcome, result: RetryableResult, at: Date): Promise<void> {
  const { logger } = ctx;
  const d = o.delivery;
  const shout = result.kind === 'misconfigured' && at.getTime() - ctx.loud.lastMisconfiguredAt >= MISCONFIGURED_LOG_EVERY_MS;
  const plan = planRetry({
    now: at,
    occurredAt: d.occurred_at,
    failedAttempts: d.attempts + 1,
    retryAfterMs: result.kind === 'retryable' ? result.retryAfterMs : undefined,
    minDelayMs: result.kind === 'misconfigured' ? MISCONFIGURED_RETRY_MS : undefined,
    random: ctx.random,
  });
  const note = noteFailure(d.failure_classes, result);
  const row = { id: d.id, instanceId: ctx.instanceId, error: result.error, now: at, failureClasses: note.stored };
  const retryAfterMs = result.kind === 'retryable' ? result.retryAfterMs : undefined;
  const notBefore = retryAfterMs === undefined ? undefined : new Date(at.getTime() + retryAfterMs);
  const applied = plan.kind === 'dead' ? await markFinal(ctx.trx, { ...row, status: 'dead', attempted: true }) : await reschedule(ctx.trx, { ...row, at: plan.at, notBefore });
  if (!applied) return;
  ctx.recorded.push({ channel: d.channel, outcome: plan.kind === 'dead' ? 'dead' : 'retried' });
  const chat = ctx.chats.get(d.target_id);
  if (chat && plan.kind === 'retry' && (chat.retryAt === undefined || plan.at < chat.retryAt)) chat.retryAt = plan.at;
  if (chat && notBefore) chat.pausedUntil = notBefore;
  if (!speaks(o)) return;
  if (shout) {
    ctx.loud.lastMisconfiguredAt = at.getTime();
    ctx.logs.push(() => logger.error(`${describeOutcome(o)} refused because our configuration is wrong: ${result.error}. Deliveries are kept and retried.`));
  }
  if (plan.kind === 'dead') {
    const why =
      plan.reason === 'retry-after-past-deadline'
        ? `the server's Retry-After reaches past 24h after the event (attempt ${d.attempts + 1})`
        : `not delivered within 24h of the event after ${d.attempts + 1} attempts`;
    ctx.logs.push(() => logger.error(`${describeOutcome(o)} is dead: ${why}; last error: ${result.error}`));
    return;
  }
  const line = retryLine(o, result, note, plan.at);
  // The error line just written already says it loudly.
  const level = shout ? 'info' : line.level;
  ctx.logs.push(() => logger[level](line.text));
}

/** Records one outcome of a batch, inside its transaction; returns what it says about the channel, if anything. */
async function recordOne(ctx: RecordingContext, o: Outcome, markedDelivered: ReadonlySet<number>): Promise<ChannelOutcome | null> {
  const d = o.delivery;
  if (o.digest?.id != null && !ctx.chats.has(d.target_id)) {
    const accepted = o.kind === 'sent' && o.result.kind === 'delivered';
    ctx.chats.set(d.target_id, { recipientId: d.target_id, digestId: o.digest.id, instanceId: ctx.instanceId, at: o.at, accepted, sent: o.kind !== 'released' || o.digest.sendStarted !== false });
  }
  if (o.kind === 'released') {
    await releaseClaim(ctx.trx, d.id, ctx.instanceId, o.at);
    return null;
  }
  if (o.kind === 'not-sent') {
    const what = o.reason === 'target-missing' ? 'no longer exists' : 'is inactive';
    const error = `${d.channel} ${d.target_id} ${what}`;
    if (await markFinal(ctx.trx, { id: d.id, instanceId: ctx.instanceId, status: 'failed', error, now: o.at, attempted: false })) {
      ctx.recorded.push({ channel: d.channel, outcome: 'failed' });
      ctx.logs.push(() => ctx.logger.info(`${describeDelivery(d)} not sent: the ${d.channel === 'webhook' ? 'webhook' : 'Telegram chat'} ${what}`));
    }
    return null;
  }
  const result = o.result;
  if (result.kind === 'delivered') {
    if (markedDelivered.has(d.id)) ctx.recorded.push({ channel: d.channel, outcome: 'delivered', latencyMs: o.at.getTime() - Date.parse(d.occurred_at) });
    if (speaks(o) && d.attempts > 0 && markedDelivered.has(d.id)) ctx.logs.push(() => ctx.logger.info(`${describeOutcome(o)} delivered after ${d.attempts + 1} attempts`));
    return speaks(o) ? { channel: d.channel, targetId: d.target_id, success: true, at: o.at } : null;
  }
  if (result.kind === 'permanent' || result.kind === 'gone') await recordPermanent(ctx, o, result.error, o.at);
  else await recordRetryable(ctx, o, result, o.at);
  if (!speaks(o)) return null;
  if (result.kind === 'gone') {
    ctx.logs.push(() => ctx.logger.warn(`${d.channel === 'webhook' ? 'Webhook' : 'Telegram chat'} ${d.target_id} deactivated: ${result.error}`));
  }
  return { channel: d.channel, targetId: d.target_id, success: false, error: result.error, deactivate: result.kind === 'gone', at: o.at };
}

/**
 * Writes one channel's bookkeeping. A success on a channel whose last outcome was a failure means
 * the receiver is back: its other waiting deliveries are retried now, in this transaction, instead of
 * each after its own back-off (which had grown to minutes for a long outage).
 */
async function recordChannelUpdate(ctx: RecordingContext, update: ChannelOutcome, now: Date): Promise<void> {
  const back = update.success && (await channelWasFailing(ctx.trx, update.channel, update.targetId));
  await recordChannelOutcome(ctx.trx, update);
  if (!back) return;
  const n = await bringForwardWaiting(ctx.trx, { channel: update.channel, targetId: update.targetId, now });
  const what = update.channel === 'webhook' ? 'Webhook' : 'Telegram chat';
  if (n > 0) ctx.logs.push(() => ctx.logger.info(`${what} ${update.targetId} accepts deliveries again: ${n} waiting deliveries are retried now`));
}

/**
 * Records one batch in one transaction: successes in one statement, the channels' bookkeeping
 * folded per channel (see {@link planChannelUpdates}). Log lines follow the commit.
 */
async function recordBatch(deps: OutcomeRecorderDeps, loud: RecordingContext['loud'], batch: readonly Outcome[]): Promise<void> {
  const now = deps.clock.now();
  const logs: Array<() => void> = [];
  const recorded: RecordedOutcome[] = [];
  await deps.db.transaction().execute(async (trx) => {
    const ctx: RecordingContext = { trx, logger: deps.logger, instanceId: deps.instanceId, random: deps.random, loud, logs, chats: new Map(), recorded };
    const delivered = batch.filter((o) => o.kind === 'sent' && o.result.kind === 'delivered').map((o) => o.delivery.id);
    const markedDelivered = await markDelivered(trx, delivered, now);
    const channelOutcomes: ChannelOutcome[] = [];
    for (const o of batch) {
      const channel = await recordOne(ctx, o, markedDelivered);
      if (channel) channelOutcomes.push(channel);
    }
    for (const update of planChannelUpdates(channelOutcomes)) await recordChannelUpdate(ctx, update, now);
    for (const chat of ctx.chats.values()) await settleChat(trx, chat);
  });
  for (const log of logs) log();
  if (recorded.length > 0) deps.onCommitted?.(recorded);
  // One line per batch, not per delivery: winston formats a line even when its level is off.
  deps.logger.debug(`Recorded ${batch.length} delivery outcome(s): ${summarize(batch)}`);
}

/**
 * Records delivery outcomes in batches: everything that arrived since the last recording goes into
 * one transaction (see {@link recordBatch}). A delivery is still marked delivered only after its
 * receiver accepted it; a crash before the recording means a resend with the same event id.
 */
/**
 * A batch this large says outcomes are streaming in (a burst): the next is gathered longer, so a
 * burst is recorded in a few dozen transactions rather than hundreds.
 */
export const STREAMING_BATCH = 32;

export function createOutcomeRecorder(deps: OutcomeRecorderDeps): OutcomeRecorder {
  const { logger } = deps;
  let buffer: Outcome[] = [];
  let recording = 0;
  let lastBatch = 0;
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  const loud = { lastMisconfiguredAt: -Infinity };
  const gatherMs = deps.gatherMs ?? 10;
  const maxBatch = deps.maxBatch ?? 256;

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    chain = chain.then(async () => {
      const batch = buffer;
      buffer = [];
      lastBatch = batch.length;
      if (batch.length === 0) return;
      recording = batch.length;
      try {
        await recordBatch(deps, loud, batch);
      } catch (error) {
        // Nothing of the batch was written: its rows keep their claims until they expire and are
        // then sent again, with the same event ids (at least once, never lost).
        logger.error(`Could not record ${batch.length} delivery outcome(s) (first: ${describeDelivery(batch[0]!.delivery)}): ${errorMessage(error)}`);
      } finally {
        recording = 0;
      }
      deps.onRecorded?.();
    });
    return chain;
  }

  return {
    add(outcome) {
      if (Array.isArray(outcome)) buffer.push(...(outcome as readonly Outcome[]));
      else buffer.push(outcome as Outcome);
      if (buffer.length >= maxBatch) void flush();
      else if (!timer) timer = setTimeout(() => void flush(), lastBatch >= STREAMING_BATCH ? gatherMs * 4 : gatherMs);
    },
    flush,
    get pending() {
      return buffer.length + recording;
    },
  };
}
