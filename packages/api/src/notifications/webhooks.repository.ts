import type { Kysely } from 'kysely';
import type { Clock, Database, Webhook } from '@lunasentri/shared';

export function listWebhooks(db: Kysely<Database>, userId: number): Promise<Webhook[]> {
  return db.selectFrom('webhooks').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

export function findWebhook(db: Kysely<Database>, userId: number, id: number): Promise<Webhook | undefined> {
  return db.selectFrom('webhooks').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

/** @throws the driver's UNIQUE violation when the user already has this URL. */
export function insertWebhook(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  fields: { url: string; secret: string; isActive: boolean },
): Promise<Webhook> {
  const now = clock.now().toISOString();
  return db
    .insertInto('webhooks')
    .values({ user_id: userId, url: fields.url, secret: fields.secret, is_active: fields.isActive ? 1 : 0, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface WebhookPatch {
  url?: string;
  secret?: string;
  isActive?: boolean;
}

/** @throws the driver's UNIQUE violation when the new URL duplicates another of the user's webhooks. */
export function updateWebhook(db: Kysely<Database>, clock: Clock, userId: number, id: number, patch: WebhookPatch): Promise<Webhook | undefined> {
  return db
    .updateTable('webhooks')
    .set({
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.secret !== undefined ? { secret: patch.secret } : {}),
      ...(patch.isActive !== undefined ? { is_active: patch.isActive ? 1 : 0 } : {}),
      updated_at: clock.now().toISOString(),
    })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

/** Pending deliveries to a deleted webhook stay in the outbox; the daemon finds no target and settles them. */
export async function deleteWebhook(db: Kysely<Database>, userId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('webhooks').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
