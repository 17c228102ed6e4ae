import type { Database, EventType } from '@lunasentri/shared';
import type { Transaction } from 'kysely';
import type { Recipient } from '../outbox/outbox.types';

/**
 * The owner's active webhooks and Telegram chats that want this event type
 * (no preferences row means both event types are on).
 */
export async function recipientsFor(trx: Transaction<Database>, userId: number, type: EventType): Promise<Recipient[]> {
  const prefs = await trx
    .selectFrom('notification_preferences')
    .select(['machine_offline', 'machine_online'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  const wanted = type === 'machine.offline' ? (prefs?.machine_offline ?? 1) : (prefs?.machine_online ?? 1);
  if (wanted !== 1) return [];
  const webhooks = await trx
    .selectFrom('webhooks')
    .select('id')
    .where('user_id', '=', userId)
    .where('is_active', '=', 1)
    .orderBy('id')
    .execute();
  const chats = await trx
    .selectFrom('telegram_recipients')
    .select('id')
    .where('user_id', '=', userId)
    .where('is_active', '=', 1)
    .orderBy('id')
    .execute();
  return [
    ...webhooks.map((w) => ({ channel: 'webhook' as const, targetId: w.id })),
    ...chats.map((c) => ({ channel: 'telegram' as const, targetId: c.id })),
  ];
}

/**
 * {@link recipientsFor}, looked up once per owner: within one transaction the answer cannot change,
 * and a batch of transitions usually shares a few owners.
 */
export function recipientsLookup(trx: Transaction<Database>, type: EventType): (userId: number) => Promise<Recipient[]> {
  const byOwner = new Map<number, Promise<Recipient[]>>();
  return (userId) => {
    let found = byOwner.get(userId);
    if (!found) {
      found = recipientsFor(trx, userId, type);
      byOwner.set(userId, found);
    }
    return found;
  };
}
