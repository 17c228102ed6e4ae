import type { Kysely } from 'kysely';
import type { Clock, Database, TelegramRecipient } from '@lunasentri/shared';

export function listTelegramRecipients(db: Kysely<Database>, userId: number): Promise<TelegramRecipient[]> {
  return db.selectFrom('telegram_recipients').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

export function findTelegramRecipient(db: Kysely<Database>, userId: number, id: number): Promise<TelegramRecipient | undefined> {
  return db.selectFrom('telegram_recipients').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

/** @throws the driver's UNIQUE violation when the user already has this chat. */
export function insertTelegramRecipient(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  fields: { chatId: number; isActive: boolean },
): Promise<TelegramRecipient> {
  const now = clock.now().toISOString();
  return db
    .insertInto('telegram_recipients')
    .values({ user_id: userId, chat_id: fields.chatId, is_active: fields.isActive ? 1 : 0, created_at: now, updated_at: now })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** @throws the driver's UNIQUE violation when the new chat duplicates another of the user's. */
export function updateTelegramRecipient(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  id: number,
  patch: { chatId?: number; isActive?: boolean },
): Promise<TelegramRecipient | undefined> {
  return db
    .updateTable('telegram_recipients')
    .set({
      ...(patch.chatId !== undefined ? { chat_id: patch.chatId } : {}),
      ...(patch.isActive !== undefined ? { is_active: patch.isActive ? 1 : 0 } : {}),
      updated_at: clock.now().toISOString(),
    })
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

export async function deleteTelegramRecipient(db: Kysely<Database>, userId: number, id: number): Promise<boolean> {
  const result = await db.deleteFrom('telegram_recipients').where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
