import { sql, type Kysely } from 'kysely';
import { withIdColumn } from '../migrations.portable';

/**
 * Telegram digests and pacing (CONTRACT §6.1), shared by every daemon on the database:
 * - `telegram_digests`: one Telegram message as planned before it is sent (its text and how many
 *   deliveries it carries), so a resend after a crash is the same message;
 * - `deliveries.digest_id`: the message a Telegram delivery went (or goes) out in; rows with the same
 *   id went in one message;
 * - `telegram_chat_pacing`: per chat, when it last received a message (its digest window), its recent
 *   sends (the per-chat limits), a `retry_after` pause, the earliest next send these allow, the
 *   digest not yet delivered (the chat's next message is its resend), and which daemon is sending
 *   to it now (a lease, like a delivery's claim: one message per chat in flight, whatever the daemons).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await withIdColumn(db, db.schema.createTable('telegram_digests'))
    .addColumn('recipient_id', 'integer', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('deliveries', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'text')
    .execute();
  await db.schema.createIndex('idx_telegram_digests_created').on('telegram_digests').column('created_at').execute();
  await db.schema.alterTable('deliveries').addColumn('digest_id', 'integer').execute();
  // A digest's rows, read when it is resent or recorded; only Telegram rows carry one.
  await db.schema
    .createIndex('idx_deliveries_digest')
    .on('deliveries')
    .columns(['digest_id', 'status'])
    .where(sql.ref('digest_id'), 'is not', null)
    .execute();
  await db.schema
    .createTable('telegram_chat_pacing')
    .addColumn('recipient_id', 'integer', (c) => c.primaryKey().references('telegram_recipients.id').onDelete('cascade'))
    .addColumn('last_message_at', 'text')
    .addColumn('recent_sends', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('paused_until', 'text')
    .addColumn('send_not_before', 'text')
    .addColumn('open_digest_id', 'integer')
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_until', 'text')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('idx_telegram_chat_pacing_last_message').on('telegram_chat_pacing').column('last_message_at').execute();
  await db.schema.createIndex('idx_telegram_chat_pacing_not_before').on('telegram_chat_pacing').column('send_not_before').execute();
  await db.schema.createIndex('idx_telegram_chat_pacing_claims').on('telegram_chat_pacing').columns(['claimed_by', 'claimed_until']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('telegram_chat_pacing').execute();
  await db.schema.dropIndex('idx_deliveries_digest').execute();
  await db.schema.alterTable('deliveries').dropColumn('digest_id').execute();
  await db.schema.dropTable('telegram_digests').execute();
}
