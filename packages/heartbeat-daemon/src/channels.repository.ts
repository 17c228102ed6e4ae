import type { Database } from '@lunasentri/shared';
import type { Kysely } from 'kysely';

/*
 * Delivery bookkeeping on the channels themselves: when each last worked or failed (shown by the
 * API), and deactivation of channels the other side says are gone for good.
 */

export function findWebhook(db: Kysely<Database>, id: number) {
  return db.selectFrom('webhooks').select(['id', 'url', 'secret', 'is_active']).where('id', '=', id).executeTakeFirst();
}

export function findTelegramRecipient(db: Kysely<Database>, id: number) {
  return db.selectFrom('telegram_recipients').select(['id', 'chat_id', 'is_active']).where('id', '=', id).executeTakeFirst();
}

export async function recordWebhookSuccess(db: Kysely<Database>, id: number, now: Date): Promise<void> {
  await db.updateTable('webhooks').set({ last_success_at: now.toISOString(), failure_count: 0 }).where('id', '=', id).execute();
}

export async function recordWebhookFailure(db: Kysely<Database>, id: number, error: string, now: Date, deactivate: boolean): Promise<void> {
  const nowIso = now.toISOString();
  await db
    .updateTable('webhooks')
    .set((eb) => ({
      last_error_at: nowIso,
      last_error: error,
      failure_count: eb('failure_count', '+', 1),
      ...(deactivate ? { is_active: 0 as const, updated_at: nowIso } : {}),
    }))
    .where('id', '=', id)
    .execute();
}

export async function recordTelegramSuccess(db: Kysely<Database>, id: number, now: Date): Promise<void> {
  await db.updateTable('telegram_recipients').set({ last_success_at: now.toISOString() }).where('id', '=', id).execute();
}

export async function recordTelegramFailure(db: Kysely<Database>, id: number, error: string, now: Date, deactivate: boolean): Promise<void> {
  const nowIso = now.toISOString();
  await db
    .updateTable('telegram_recipients')
    .set({
      last_error_at: nowIso,
      last_error: error,
      ...(deactivate ? { is_active: 0 as const, updated_at: nowIso } : {}),
    })
    .where('id', '=', id)
    .execute();
}
