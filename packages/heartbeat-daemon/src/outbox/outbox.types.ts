import type { ChannelKind, EventType, SuppressedReason } from '@lunasentri/shared';

/*
 * The outbox is the seam between the two pipelines: the sweep writes an event and one pending
 * delivery per recipient in the transaction of the transition that caused them; the dispatcher
 * drains the deliveries. Neither knows the other; both know these rows.
 */

/** One channel an event goes to: a webhook or a Telegram chat of the machine's owner. */
export interface Recipient {
  channel: ChannelKind;
  targetId: number;
}

export interface NewEvent {
  id: string;
  type: EventType;
  machineId: number;
  userId: number;
  occurredAt: string;
  /** the serialized webhook body; every resend carries exactly this */
  payload: string;
  /** one pending delivery each, due at once */
  recipients: readonly Recipient[];
  /** held back by a quiet rule (CONTRACT §6): recorded with no recipients; default null */
  suppressed?: SuppressedReason | null;
}

/** A delivery this instance holds a claim on, with what it needs to send. */
export interface ClaimedDelivery {
  id: number;
  event_id: string;
  machine_id: number;
  channel: ChannelKind;
  target_id: number;
  attempts: number;
  event_type: EventType;
  occurred_at: string;
  /** the webhook body, exactly as stored when the event was decided */
  payload: string;
  /** the kinds of failure met so far (see failures.models.ts) */
  failure_classes: string | null;
}

/**
 * The dispatcher of this process, taking new deliveries as they are written: the outbox write
 * claims them for it in the same transaction, and it sends them without claiming them again (no
 * read of the outbox, no second write of each row). Only rows whose stream has no earlier pending
 * delivery are handed over, so order per stream holds; the rest wait for an ordinary claim.
 */
export interface OutboxHandoff {
  /** the claims' holder (the daemon's instance id) */
  readonly instanceId: string;
  /** the channels it sends row by row (Telegram goes by chat, as digests, and is never handed over) */
  readonly channels: readonly ChannelKind[];
  /** how long a claim protects its row (ms) */
  readonly leaseMs: number;
  /** how many rows it takes now at most (its queue stays bounded); 0 while it is stopping */
  room(): number;
  /** after the commit: the rows claimed for it, in delivery id order, and when their claims end (ms) */
  take(rows: ClaimedDelivery[], claimedUntilMs: number): void;
}

/** One transaction's share of a handoff: its terms, and the rows claimed so far. */
export interface HandoffBatch {
  instanceId: string;
  channels: readonly ChannelKind[];
  /** the claims' end */
  until: Date;
  /** rows it may still claim */
  limit: number;
  claimed: ClaimedDelivery[];
}
