import type { Kysely } from 'kysely';

/**
 * What a failing delivery and a failing channel need to be reported well:
 * - `deliveries.failure_classes`: the kinds of failure a delivery has met so far (a JSON array such as
 *   `["timeout after 5s","HTTP 503"]`), so the first failure of each kind is logged as a warning and a
 *   retry that fails the same way again stays an info line;
 * - `webhooks.failing_since`, `telegram_recipients.failing_since`: the first failure after the last
 *   success (cleared by a success), so `lunasentri-heartbeat status` can say how long a channel has been failing.
 */
const FAILING_SINCE_TABLES = ['webhooks', 'telegram_recipients'] as const;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('deliveries').addColumn('failure_classes', 'text').execute();
  for (const table of FAILING_SINCE_TABLES) await db.schema.alterTable(table).addColumn('failing_since', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of FAILING_SINCE_TABLES) await db.schema.alterTable(table).dropColumn('failing_since').execute();
  await db.schema.alterTable('deliveries').dropColumn('failure_classes').execute();
}
