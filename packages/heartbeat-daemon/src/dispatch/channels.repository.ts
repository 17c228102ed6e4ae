import type { ChannelKind, ChannelTarget, Database } from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import type { ChannelOutcome } from './channels.models';

type Db = Kysely<Database> | Transaction<Database>;

/*
 * Delivery bookkeeping on the channels themselves: when each last worked or failed (shown by the
 * API), since when it has been failing (the first failure after its last success; `status` shows
 * it), and deactivation of channels the other side says are gone for good.
 */

/** A delivery's channel as the dispatcher needs it: where to send, or that it must not. */
export type ChannelState = { active: false } | ({ active: true } & ChannelTarget);

/** The channel of a delivery, or undefined when it no longer exists. */
export async function findChannelTarget(db: Db, channel: ChannelKind, id: number): Promise<ChannelState | undefined> {
  if (channel === 'webhook') {
    const hook = await db.selectFrom('webhooks').select(['url', 'secret', 'is_active']).where('id', '=', id).executeTakeFirst();
    if (!hook) return undefined;
    return hook.is_active === 1 ? { active: true, channel, url: hook.url, secret: hook.secret } : { active: false };
  }
  const chat = await db.selectFrom('telegram_recipients').select(['chat_id', 'is_active']).where('id', '=', id).executeTakeFirst();
  if (!chat) return undefined;
  return chat.is_active === 1 ? { active: true, channel, chatId: chat.chat_id } : { active: false };
}

/** Whether the channel's last recorded outcome was a failure (its last error is later than its last success). */
export async function channelWasFailing(db: Db, channel: ChannelKind, id: number): Promise<boolean> {
  const row =
    channel === 'webhook'
      ? await db.selectFrom('webhooks').select(['last_error_at', 'last_success_at']).where('id', '=', id).executeTakeFirst()
      : await db.selectFrom('telegram_recipients').select(['last_error_at', 'last_success_at']).where('id', '=', id).executeTakeFirst();
  if (!row?.last_error_at) return false;
  return row.last_success_at === null || row.last_error_at > row.last_success_at;
}

/** Writes one planned update (see {@link planChannelUpdates}). */
export async function recordChannelOutcome(db: Db, outcome: ChannelOutcome): Promise<void> {
  const atIso = outcome.at.toISOString();
  const id = outcome.targetId;
  if (outcome.channel === 'webhook') {
    if (outcome.success) {
      await db.updateTable('webhooks').set({ last_success_at: atIso, failure_count: 0, failing_since: null }).where('id', '=', id).execute();
      return;
    }
    await db
      .updateTable('webhooks')
      .set((eb) => ({
        last_error_at: atIso,
        last_error: outcome.error,
        failure_count: eb('failure_count', '+', 1),
        failing_since: eb.fn.coalesce('failing_since', eb.val(atIso)),
        ...(outcome.deactivate ? { is_active: 0 as const, updated_at: atIso } : {}),
      }))
      .where('id', '=', id)
      .execute();
    return;
  }
  if (outcome.success) {
    await db.updateTable('telegram_recipients').set({ last_success_at: atIso, failing_since: null }).where('id', '=', id).execute();
    return;
  }
  await db
    .updateTable('telegram_recipients')
    .set((eb) => ({
      last_error_at: atIso,
      last_error: outcome.error,
      failing_since: eb.fn.coalesce('failing_since', eb.val(atIso)),
      ...(outcome.deactivate ? { is_active: 0 as const, updated_at: atIso } : {}),
    }))
    .where('id', '=', id)
    .execute();
}
