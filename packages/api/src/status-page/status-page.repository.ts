import type { Database, StatusPage } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { newStatusSlug } from '../credentials/credentials';

export const STATUS_PAGE_DEFAULT_TITLE = 'Status';

export interface StatusPageSettings {
  enabled?: boolean;
  title?: string;
  show_hostnames?: boolean;
}

export function findStatusPage(db: Kysely<Database>, userId: number): Promise<StatusPage | undefined> {
  return db.selectFrom('status_pages').selectAll().where('user_id', '=', userId).executeTakeFirst();
}

/** An enabled page by its slug; a disabled or unknown one is nothing. */
export function findPublishedPage(db: Kysely<Database>, slug: string): Promise<StatusPage | undefined> {
  return db.selectFrom('status_pages').selectAll().where('slug', '=', slug).where('enabled', '=', 1).executeTakeFirst();
}

/**
 * Writes a user's settings: fields left out keep their value (the defaults on the first write:
 * disabled, titled "Status", hostnames hidden). The slug is made on the first write and kept.
 */
export async function saveStatusPage(db: Kysely<Database>, userId: number, settings: StatusPageSettings, now: Date): Promise<StatusPage> {
  const nowIso = now.toISOString();
  const flag = (value: boolean | undefined) => (value === undefined ? undefined : value ? (1 as const) : (0 as const));
  const changes = { enabled: flag(settings.enabled), title: settings.title, show_hostnames: flag(settings.show_hostnames), updated_at: nowIso };
  await db
    .insertInto('status_pages')
    .values({
      user_id: userId,
      slug: newStatusSlug(),
      enabled: changes.enabled ?? 0,
      title: changes.title ?? STATUS_PAGE_DEFAULT_TITLE,
      show_hostnames: changes.show_hostnames ?? 0,
      created_at: nowIso,
      updated_at: nowIso,
    })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined))))
    .execute();
  return (await findStatusPage(db, userId))!;
}
