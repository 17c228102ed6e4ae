import type { Kysely } from 'kysely';

/**
 * The earliest moment the receiver itself allows the next attempt of a delivery (its `Retry-After`,
 * Telegram's `retry_after`), or NULL. When a failing target succeeds again the dispatcher retries
 * its other waiting deliveries at once, but never before the time a receiver asked for.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deliveries').addColumn('retry_not_before', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deliveries').dropColumn('retry_not_before').execute();
}
