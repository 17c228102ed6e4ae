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
