import type { Database, EventType } from '@lunasentri/shared';
import type { Transaction } from 'kysely';
import type { Recipient } from './recipients.repository';

export interface NewEvent {
  id: string;
  type: EventType;
  machineId: number;
  userId: number;
  occurredAt: string;
  /** the serialized webhook body; every resend carries exactly this */
  payload: string;
}

/** The outbox write: the event and one pending delivery per recipient, due at once. */
export async function insertEventWithDeliveries(trx: Transaction<Database>, event: NewEvent, recipients: readonly Recipient[]): Promise<void> {
  await trx
    .insertInto('events')
    .values({
      id: event.id,
      type: event.type,
      machine_id: event.machineId,
      user_id: event.userId,
      occurred_at: event.occurredAt,
      payload: event.payload,
      created_at: event.occurredAt,
    })
    .execute();
  if (recipients.length === 0) return;
  await trx
    .insertInto('deliveries')
    .values(
      recipients.map((r) => ({
        event_id: event.id,
        machine_id: event.machineId,
        channel: r.channel,
        target_id: r.targetId,
        status: 'pending' as const,
        attempts: 0,
        next_attempt_at: event.occurredAt,
        created_at: event.occurredAt,
        updated_at: event.occurredAt,
      })),
    )
    .execute();
}
