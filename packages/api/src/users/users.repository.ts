import { sql, type Kysely } from 'kysely';
import type { Clock, Database, User } from '@lunasentri/shared';
import { hashCredential, newUserToken } from '../credentials/credentials';

export class UserExistsError extends Error {
  override name = 'UserExistsError';
}

/** The one form an email is stored and compared in: surrounding space trimmed, lowercased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/**
 * The user with this email, whatever its case. Emails are stored normalised; the second read finds a
 * row written before they were (SQLite's lower() folds ASCII only, as such rows would need).
 */
export async function findUserByEmail(db: Kysely<Database>, email: string): Promise<User | undefined> {
  const normalized = normalizeEmail(email);
  const exact = await db.selectFrom('users').selectAll().where('email', '=', normalized).executeTakeFirst();
  if (exact) return exact;
  return db.selectFrom('users').selectAll().where(sql<string>`lower(trim(email))`, '=', normalized).orderBy('id').executeTakeFirst();
}

/** Creates a user and a first personal API token in one transaction. */
export async function createUser(
  db: Kysely<Database>,
  clock: Clock,
  email: string,
  isAdmin: boolean,
): Promise<{ user: User; token: string }> {
  const now = clock.now().toISOString();
  const token = newUserToken();
  email = normalizeEmail(email);
  const user = await db.transaction().execute(async (trx) => {
    const existing = await findUserByEmail(trx, email);
    if (existing) throw new UserExistsError(`a user with email ${email} already exists`);
    const row = await trx
      .insertInto('users')
      .values({ email, is_admin: isAdmin ? 1 : 0, created_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    await trx.insertInto('api_tokens').values({ user_id: row.id, token_hash: hashCredential(token), name: 'created with the user', created_at: now }).execute();
    return row;
  });
  return { user, token };
}

/** Issues another personal API token for an existing user. */
export async function createToken(db: Kysely<Database>, clock: Clock, userId: number, name: string | null = null): Promise<string> {
  const token = newUserToken();
  await db
    .insertInto('api_tokens')
    .values({ user_id: userId, token_hash: hashCredential(token), name, created_at: clock.now().toISOString() })
    .execute();
  return token;
}

export interface TokenOwner {
  userId: number;
  tokenId: number;
  lastUsedAt: string | null;
}

export function findTokenOwner(db: Kysely<Database>, tokenHash: string): Promise<TokenOwner | undefined> {
  return db
    .selectFrom('api_tokens')
    .select(['user_id as userId', 'id as tokenId', 'last_used_at as lastUsedAt'])
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
}

export async function touchToken(db: Kysely<Database>, tokenId: number, nowIso: string): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: nowIso }).where('id', '=', tokenId).execute();
}

/** What `token list` shows of a token: never the token or its hash. */
export interface TokenSummary {
  id: number;
  name: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export function listTokens(db: Kysely<Database>, userId: number): Promise<TokenSummary[]> {
  return db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'created_at', 'last_used_at', 'revoked_at'])
    .where('user_id', '=', userId)
    .orderBy('id')
    .execute();
}

/**
 * Revokes one of the user's tokens (another user's id is "not found"). Tokens are looked up on every
 * request, never cached, so the next request with it is refused in every API process at once.
 * Revoking a revoked token keeps its first `revoked_at`.
 */
export async function revokeToken(
  db: Kysely<Database>,
  clock: Clock,
  userId: number,
  tokenId: number,
): Promise<{ token: TokenSummary; alreadyRevoked: boolean } | undefined> {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('api_tokens')
      .select(['id', 'name', 'created_at', 'last_used_at', 'revoked_at'])
      .where('id', '=', tokenId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) return undefined;
    if (row.revoked_at !== null) return { token: row, alreadyRevoked: true };
    const revokedAt = clock.now().toISOString();
    await trx.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', tokenId).where('revoked_at', 'is', null).execute();
    return { token: { ...row, revoked_at: revokedAt }, alreadyRevoked: false };
  });
}
