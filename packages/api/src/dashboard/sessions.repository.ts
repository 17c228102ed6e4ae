import type { Database } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { hashCredential, newSessionSecret } from '../credentials/credentials';

/** How long a dashboard session lasts from sign-in (the cookie expires with it). */
export const SESSION_TTL_MS = 12 * 3600_000;

export interface SessionOwner {
  userId: number;
  expiresAt: string;
}

/**
 * Opens a session for the owner of a personal token and returns the cookie's value (stored only as
 * its hash). Expired sessions are deleted on the way (an index range), so the table holds only live ones.
 */
export async function openSession(db: Kysely<Database>, owner: { userId: number; tokenId: number; now: Date }): Promise<{ secret: string; expiresAt: Date }> {
  const secret = newSessionSecret();
  const nowIso = owner.now.toISOString();
  const expiresAt = new Date(owner.now.getTime() + SESSION_TTL_MS);
  await db.deleteFrom('dashboard_sessions').where('expires_at', '<=', nowIso).execute();
  await db
    .insertInto('dashboard_sessions')
    .values({ id_hash: hashCredential(secret), user_id: owner.userId, token_id: owner.tokenId, created_at: nowIso, expires_at: expiresAt.toISOString() })
    .execute();
  return { secret, expiresAt };
}

/** The live session of a cookie value: not expired, and its token not revoked. */
export function findSession(db: Kysely<Database>, secret: string, now: Date): Promise<SessionOwner | undefined> {
  return db
    .selectFrom('dashboard_sessions as s')
    .innerJoin('api_tokens as t', 't.id', 's.token_id')
    .select(['s.user_id as userId', 's.expires_at as expiresAt'])
    .where('s.id_hash', '=', hashCredential(secret))
    .where('s.expires_at', '>', now.toISOString())
    .where('t.revoked_at', 'is', null)
    .executeTakeFirst();
}

/** Ends a session on the server: its cookie no longer signs anyone in, wherever it was copied. */
export async function closeSession(db: Kysely<Database>, secret: string): Promise<void> {
  await db.deleteFrom('dashboard_sessions').where('id_hash', '=', hashCredential(secret)).execute();
}
