import type { ChannelKind } from '@lunasentri/shared';
import { claimLeftToSend } from './claims.models';

/*
 * The dispatcher's send-slot planning, pure: given the queue of claimed rows, what is in flight per
 * channel, the time and the limits, which rows start now, which go back, and whether to claim more.
 * Everything is an argument; the dispatcher holds the state and does the I/O.
 */

/** A claimed row waiting in the dispatcher's queue. */
export interface QueuedRow<D extends { channel: ChannelKind; target_id: number } = { channel: ChannelKind; target_id: number }> {
  delivery: D;
  /** when the claim ends (ms) */
  claimedUntil: number;
}

export interface SlotLimits {
  /** sends in flight at most */
  concurrency: number;
  /** sends in flight to one channel (one webhook, one chat) at most */
  perTarget: number;
  /** how long a claim protects a row */
  leaseMs: number;
}

/** One channel of one kind: a webhook or a Telegram chat. */
export interface Target {
  channel: ChannelKind;
  targetId: number;
}

/** `webhook:3`: the key sends in flight are counted under. */
export function targetKey(d: { channel: ChannelKind; target_id: number }): string {
  return `${d.channel}:${d.target_id}`;
}

export interface SendPlan<Q> {
  /** start these now, in this order */
  start: Q[];
  /** their claims are too old to start a send: give them back unsent */
  release: Q[];
}

/**
 * Which queued rows start now. Oldest first; a row whose channel already has its share of sends in
 * flight keeps its place, so one slow receiver never holds up the others; a row whose claim has less
 * than half a lease left goes back (a send must end well before the claim does). Once every slot is
 * taken the rest of the queue waits as it is. Order within a stream holds because a claim never holds
 * two rows of one (channel, target, machine) stream.
 *
 * `queuedTargets`, when given, is how many channels the queue holds rows of: once each of them is
 * seen with all its slots taken, nothing further back can start, and the walk ends there. Rows are
 * queued in the order they were claimed, so claims end in queue order and none further back needs
 * releasing sooner. A burst to one receiver then looks at two rows per freed slot, not the whole queue.
 */
export function planSends<Q extends QueuedRow>(
  queue: readonly Q[],
  inFlightPerTarget: ReadonlyMap<string, number>,
  inFlight: number,
  nowMs: number,
  limits: SlotLimits,
  queuedTargets = Infinity,
): SendPlan<Q> {
  const plan: SendPlan<Q> = { start: [], release: [] };
  const started = new Map<string, number>();
  const full = new Set<string>();
  let running = inFlight;
  for (let i = 0; i < queue.length && running < limits.concurrency && full.size < queuedTargets; i++) {
    const row = queue[i]!;
    if (!claimLeftToSend(row.claimedUntil, nowMs, limits.leaseMs)) {
      plan.release.push(row);
      continue;
    }
    const key = targetKey(row.delivery);
    const n = (inFlightPerTarget.get(key) ?? 0) + (started.get(key) ?? 0);
    if (n >= limits.perTarget) {
      full.add(key);
      continue;
    }
    started.set(key, (started.get(key) ?? 0) + 1);
    running++;
    plan.start.push(row);
  }
  return plan;
}

/** Channels with every one of their slots taken. */
export function busyTargets(inFlightPerTarget: ReadonlyMap<string, number>, perTarget: number): Target[] {
  return [...inFlightPerTarget]
    .filter(([, n]) => n >= perTarget)
    .map(([key]) => {
      const [channel, targetId] = key.split(':');
      return { channel: channel as ChannelKind, targetId: Number(targetId) };
    });
}

export interface ClaimInputs {
  queue: readonly QueuedRow[];
  inFlightPerTarget: ReadonlyMap<string, number>;
  limits: SlotLimits;
  /** rows held in the queue at most */
  claimBatch: number;
  nowMs: number;
  /** before this time no claim is made while some channel is busy (see {@link afterClaim}) */
  busyRescanAt: number;
  /** the queue's rows counted per channel, when the caller keeps that count: the same answer without walking the queue */
  queuedPerTarget?: ReadonlyMap<string, number>;
}

/** Queued rows whose channel has a slot free. */
function readyRows(inputs: ClaimInputs): number {
  const { inFlightPerTarget, limits } = inputs;
  const free = (key: string) => (inFlightPerTarget.get(key) ?? 0) < limits.perTarget;
  if (!inputs.queuedPerTarget) return inputs.queue.filter((q) => free(targetKey(q.delivery))).length;
  let ready = 0;
  for (const [key, n] of inputs.queuedPerTarget) if (free(key)) ready += n;
  return ready;
}

export type ClaimPlan = { claim: false } | { claim: true; limit: number; skipTargets: Target[] };

/**
 * Whether to claim more rows now, how many, and which channels to pass over. Rows waiting for a busy
 * channel do not count towards "enough queued": the other channels' rows must still be claimed, and
 * the queue stays bounded all the same. Busy channels are left to later claims (their rows would
 * only wait here).
 */
export function planClaim(inputs: ClaimInputs): ClaimPlan {
  const { queue, inFlightPerTarget, limits } = inputs;
  if (queue.length >= inputs.claimBatch) return { claim: false };
  if (readyRows(inputs) >= limits.concurrency) return { claim: false };
  const busy = busyTargets(inFlightPerTarget, limits.perTarget);
  if (busy.length > 0 && inputs.nowMs < inputs.busyRescanAt) return { claim: false };
  return { claim: true, limit: inputs.claimBatch - queue.length, skipTargets: busy };
}

/** How long a claim that passed over busy channels and found nothing else keeps the next one waiting. */
export const BUSY_RESCAN_MS = 100;

/**
 * The next `busyRescanAt` after a claim. A claim that must pass over busy channels walks all their
 * due rows to find others' (10,000 in a burst to one receiver); when it found nothing, the next one
 * waits a little: other channels' new rows are then claimed within {@link BUSY_RESCAN_MS}, and a
 * burst costs no rescan per send.
 */
export function afterClaim(plan: Extract<ClaimPlan, { claim: true }>, claimed: number, nowMs: number, previous: number): number {
  return claimed === 0 && plan.skipTargets.length > 0 ? nowMs + BUSY_RESCAN_MS : previous;
}

/**
 * How many Telegram chats to claim a message for now: as many as there are send slots not taken by
 * sends in flight or rows already queued, and as the bot's own rolling limit still allows.
 */
export function digestClaimLimit(inputs: { queue: readonly QueuedRow[]; inFlight: number; limits: Pick<SlotLimits, 'concurrency'>; botSendsLeft: number }): number {
  const queuedDigests = inputs.queue.filter((q) => q.delivery.channel === 'telegram').length;
  const free = inputs.limits.concurrency - inputs.inFlight - queuedDigests;
  return Math.max(0, Math.min(free, inputs.botSendsLeft));
}
