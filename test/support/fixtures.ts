import type { Kysely } from 'kysely';
import type { Database, MachineStatus } from '@lunasentri/shared';

const T0 = '2026-11-28T03:00:00.000Z';

/** Rows written straight into a migrated test database (no API involved). */
export async function insertUser(db: Kysely<Database>, email = 'owner@example.com'): Promise<number> {
  const row = await db.insertInto('users').values({ email, created_at: T0 }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export interface MachineFixture {
  name?: string;
  hostname?: string | null;
  description?: string | null;
  status?: MachineStatus;
  last_seen?: string | null;
  status_changed_at?: string | null;
  is_enabled?: 0 | 1;
  enabled_at?: string | null;
}

export async function insertMachine(db: Kysely<Database>, userId: number, fields: MachineFixture = {}): Promise<number> {
  const row = await db
    .insertInto('machines')
    .values({
      user_id: userId,
      name: fields.name ?? 'production-server',
      hostname: fields.hostname === undefined ? 'prod-01.example.com' : fields.hostname,
      description: fields.description === undefined ? 'Main API server' : fields.description,
      status: fields.status ?? 'pending',
      last_seen: fields.last_seen ?? null,
      status_changed_at: fields.status_changed_at ?? null,
      is_enabled: fields.is_enabled ?? 1,
      enabled_at: fields.enabled_at ?? null,
      created_at: T0,
      updated_at: T0,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertWebhook(
  db: Kysely<Database>,
  userId: number,
  url: string,
  secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  isActive: 0 | 1 = 1,
): Promise<number> {
  const row = await db
    .insertInto('webhooks')
    .values({ user_id: userId, url, secret, is_active: isActive, created_at: T0, updated_at: T0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertTelegramRecipient(db: Kysely<Database>, userId: number, chatId: number, isActive: 0 | 1 = 1): Promise<number> {
  const row = await db
    .insertInto('telegram_recipients')
    .values({ user_id: userId, chat_id: chatId, is_active: isActive, created_at: T0, updated_at: T0 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function setPreferences(db: Kysely<Database>, userId: number, offline: 0 | 1, online: 0 | 1): Promise<void> {
  await db
    .insertInto('notification_preferences')
    .values({ user_id: userId, machine_offline: offline, machine_online: online, updated_at: T0 })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ machine_offline: offline, machine_online: online }))
    .execute();
}
