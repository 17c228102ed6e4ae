import { lockedForClaim, type Database, type TelegramPacingLimits } from '@lunasentri/shared';
import type { Kysely, Transaction } from 'kysely';
import { claimedDeliveries, dueQuery, mayBeDueQuery, paddedIds, PENDING, type ClaimedDelivery } from './deliveries.repository';
import { DAEMON_TELEGRAM_PACING, DIGEST_MAX_DELIVERIES, digestText, newDigestTake, pacingAfterRetryAfter, pacingAfterSend } from './digests.models';

type Db = Kysely<Database> | Transaction<Database>;

/*
 * Telegram deliveries go out per chat, as digests (CONTRACT §6.1): a chat is claimed as a unit, by
 * one daemon at a time (a lease on its pacing row, beside the claims on its delivery rows), and its
 * next message is planned and stored in the claim's transaction, before it is sent. So a resend
 * after a crash is the same message, another daemon never sends to the chat meanwhile, and the
 * window and the per-chat limits hold whichever daemon sends.
 */

/** One Telegram message this instance holds a claim on: its chat, its text and the deliveries it carries. */
export interface ClaimedDigest {
  channel: 'telegram';
  /** telegram_recipients.id */
  target_id: number;
  /** the stored message; null when the chat is gone or inactive (its rows are then given up unsent) */
  digestId: number | null;
  chatId: number | null;
  text: string;
  /** in delivery order; every one is settled by this one message */
  rows: ClaimedDelivery[];
}

export interface DigestClaimOptions {
  now: Date;
  instanceId: string;
  leaseMs: number;
  /** TELEGRAM_GROUP_WINDOW in ms; 0: one delivery per message */
  windowMs: number;
  /** messages to claim at most (the bot's budget and free send slots) */
  limit: number;
  limits?: Readonly<TelegramPacingLimits>;
}

type PacingRow = Awaited<ReturnType<typeof lockChats>>[number];

/**
 * Chats with a due delivery that may get a message now: not being sent to, past their pacing bound,
 * and either past their window or owing a resend. Walks the due Telegram rows (idx_deliveries_due).
 */
function readyChatsQuery(db: Db, options: DigestClaimOptions) {
  const nowIso = options.now.toISOString();
  const windowCutoff = new Date(options.now.getTime() - options.windowMs).toISOString();
  return db
    .selectFrom('deliveries as d')
    .leftJoin('telegram_chat_pacing as p', 'p.recipient_id', 'd.target_id')
    .select('d.target_id')
    .distinct()
    .where('d.channel', '=', 'telegram')
    .where('d.status', '=', PENDING)
    .where('d.next_attempt_at', '<=', nowIso)
    .where((eb) => eb.or([eb('d.claimed_until', 'is', null), eb('d.claimed_until', '<=', nowIso)]))
    .where((eb) =>
      eb.or([
        eb('p.recipient_id', 'is', null),
        eb.and([
          eb.or([eb('p.claimed_until', 'is', null), eb('p.claimed_until', '<=', nowIso)]),
          eb.or([eb('p.send_not_before', 'is', null), eb('p.send_not_before', '<=', nowIso)]),
          eb.or([eb('p.open_digest_id', 'is not', null), eb('p.last_message_at', 'is', null), eb('p.last_message_at', '<=', windowCutoff)]),
        ]),
      ]),
    )
    .limit(Math.max(64, options.limit * 4));
}

/** Locks the pacing rows of these chats that are free to claim (PostgreSQL: passing over the ones another daemon is claiming). */
function lockChats(trx: Transaction<Database>, ids: readonly number[], nowIso: string) {
  const query = trx
    .selectFrom('telegram_chat_pacing as p')
    .innerJoin('telegram_recipients as r', 'r.id', 'p.recipient_id')
    .select(['p.recipient_id', 'p.last_message_at', 'p.recent_sends', 'p.paused_until', 'p.open_digest_id', 'r.chat_id', 'r.user_id'])
    .where('p.recipient_id', 'in', ids)
    .where((eb) => eb.or([eb('p.claimed_until', 'is', null), eb('p.claimed_until', '<=', nowIso)]))
    .where((eb) => eb.or([eb('p.send_not_before', 'is', null), eb('p.send_not_before', '<=', nowIso)]))
    .orderBy('p.recipient_id');
  return lockedForClaim(trx, query, 'p').execute();
}

async function ownerEnabledMachines(db: Db, userId: number): Promise<number> {
  const row = await db
    .selectFrom('machines')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('is_enabled', '=', 1)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Claims these rows for this instance, as members of `digestId` (null: no message). */
async function claimRows(trx: Transaction<Database>, rows: readonly ClaimedDelivery[], digestId: number | null, options: DigestClaimOptions): Promise<void> {
  const nowIso = options.now.toISOString();
  const until = new Date(options.now.getTime() + options.leaseMs).toISOString();
  for (let i = 0; i < rows.length; i += 1024) {
    const ids = rows.slice(i, i + 1024).map((r) => r.id);
    await trx
      .updateTable('deliveries')
      .set({ claimed_until: until, claimed_by: options.instanceId, updated_at: nowIso, ...(digestId === null ? {} : { digest_id: digestId }) })
      .where('id', 'in', paddedIds(ids))
      .execute();
  }
}

/**
 * The still-pending rows of the chat's unfinished digest, and its text: the stored one while every
 * row it was planned for is still pending, else planned again for those left (a failed message is
 * retried with only its pending rows). Null when the digest is finished or its retry is not due yet.
 */
async function openDigest(trx: Transaction<Database>, chat: PacingRow, nowIso: string): Promise<{ rows: ClaimedDelivery[]; text: string } | 'finished' | null> {
  const digestId = chat.open_digest_id!;
  const rows = await claimedDeliveries(trx).select('d.next_attempt_at').where('d.digest_id', '=', digestId).where('d.status', '=', PENDING).orderBy('d.id').execute();
  if (rows.length === 0) return 'finished';
  if (!rows.some((r) => r.next_attempt_at <= nowIso)) return null;
  const stored = await trx.selectFrom('telegram_digests').select(['text', 'deliveries']).where('id', '=', digestId).executeTakeFirst();
  if (stored && stored.deliveries === rows.length) return { rows, text: stored.text };
  const text = digestText(
    rows.map((r) => r.payload),
    await ownerEnabledMachines(trx, chat.user_id),
  );
  await trx.updateTable('telegram_digests').set({ text, deliveries: rows.length }).where('id', '=', digestId).execute();
  return { rows, text };
}

/** Plans the chat's next message (its resend, or a new digest of what is due) and claims it; null when nothing goes now. */
async function claimChat(trx: Transaction<Database>, chat: PacingRow, options: DigestClaimOptions): Promise<ClaimedDigest | null> {
  const nowIso = options.now.toISOString();
  let digestId = chat.open_digest_id;
  let planned = digestId === null ? 'finished' : await openDigest(trx, chat, nowIso);
  if (planned === null) return null;
  if (planned === 'finished') {
    digestId = null;
    const take = newDigestTake({ lastMessageAt: chat.last_message_at, windowMs: options.windowMs, nowMs: options.now.getTime() });
    const rows = take === 0 ? [] : await dueQuery(trx, { now: options.now, channels: ['telegram'], limit: take, target: { channel: 'telegram', targetId: chat.recipient_id } }).execute();
    if (rows.length === 0) {
      if (chat.open_digest_id !== null) await trx.updateTable('telegram_chat_pacing').set({ open_digest_id: null }).where('recipient_id', '=', chat.recipient_id).execute();
      return null;
    }
    const text = digestText(
      rows.map((r) => r.payload),
      await ownerEnabledMachines(trx, chat.user_id),
    );
    const inserted = await trx
      .insertInto('telegram_digests')
      .values({ recipient_id: chat.recipient_id, text, deliveries: rows.length, created_at: nowIso })
      .returning('id')
      .executeTakeFirstOrThrow();
    digestId = inserted.id;
    planned = { rows, text };
  }
  await claimRows(trx, planned.rows, digestId, options);
  // The send is counted for pacing when its answer is recorded (settleChat); until then the lease keeps every other send away.
  await trx
    .updateTable('telegram_chat_pacing')
    .set({
      claimed_by: options.instanceId,
      claimed_until: new Date(options.now.getTime() + options.leaseMs).toISOString(),
      open_digest_id: digestId,
      updated_at: nowIso,
    })
    .where('recipient_id', '=', chat.recipient_id)
    .execute();
  return { channel: 'telegram', target_id: chat.recipient_id, digestId, chatId: chat.chat_id, text: planned.text, rows: planned.rows };
}

/** A deleted or inactive chat: its due rows are claimed without a message, to be given up by the deliverer. */
async function claimUnsendable(trx: Transaction<Database>, targetId: number, options: DigestClaimOptions): Promise<ClaimedDigest | null> {
  const rows = await dueQuery(trx, { now: options.now, channels: ['telegram'], limit: DIGEST_MAX_DELIVERIES, target: { channel: 'telegram', targetId } }).execute();
  if (rows.length === 0) return null;
  await claimRows(trx, rows, null, options);
  return { channel: 'telegram', target_id: targetId, digestId: null, chatId: null, text: '', rows };
}

/**
 * Claims up to `limit` Telegram chats that may get a message now, each with its next message: the
 * resend of its unfinished digest, or one new digest of everything due for it (CONTRACT §6.1; one
 * delivery with the window off). One write transaction; a plain read first, so nothing due means
 * no write lock.
 */
export async function claimDigests(db: Kysely<Database>, options: DigestClaimOptions): Promise<ClaimedDigest[]> {
  if (options.limit <= 0) return [];
  const nowIso = options.now.toISOString();
  if ((await mayBeDueQuery(db, nowIso, ['telegram']).executeTakeFirst()) === undefined) return [];
  return db.transaction().execute(async (trx) => {
    const ids = (await readyChatsQuery(trx, options).execute()).map((r) => r.target_id);
    if (ids.length === 0) return [];
    const chats = await trx.selectFrom('telegram_recipients').select(['id', 'is_active']).where('id', 'in', ids).execute();
    const active = chats.filter((c) => c.is_active === 1).map((c) => c.id);
    const claimed: ClaimedDigest[] = [];
    for (const id of ids.filter((i) => !active.includes(i))) {
      const unsendable = await claimUnsendable(trx, id, options);
      if (unsendable) claimed.push(unsendable);
    }
    if (active.length === 0) return claimed;
    await trx
      .insertInto('telegram_chat_pacing')
      .columns(['recipient_id', 'recent_sends', 'updated_at'])
      .expression((eb) => eb.selectFrom('telegram_recipients').select((s) => ['id', s.val('[]').as('recent_sends'), s.val(nowIso).as('updated_at')]).where('id', 'in', active))
      .onConflict((oc) => oc.column('recipient_id').doNothing())
      .execute();
    let messages = 0;
    for (const chat of await lockChats(trx, active, nowIso)) {
      if (messages >= options.limit) break;
      const digest = await claimChat(trx, chat, options);
      if (!digest) continue;
      claimed.push(digest);
      messages += 1;
    }
    return claimed;
  });
}

/** What became of one chat's message, for its pacing row. */
export interface ChatSettlement {
  recipientId: number;
  digestId: number | null;
  instanceId: string;
  at: Date;
  /** Telegram accepted the message: the chat's window starts here */
  accepted: boolean;
  /** whether a request may have gone out (false: the message was given back before its send started) */
  sent: boolean;
  /** the earliest retry of the message's rows, when it is to be resent */
  retryAt?: Date;
  /** Telegram said 429 with retry_after: no message to this chat before this */
  pausedUntil?: Date;
}

const later = (a: string | null, b: string) => (a === null || b > a ? b : a);

/**
 * Records a message's outcome on its chat: the window opens when Telegram accepts it, a 429 pauses
 * the chat, a retry keeps the chat's next message for the resend until the retry is due, and the
 * lease is given back. Runs in the transaction that records the message's delivery rows.
 */
export async function settleChat(trx: Transaction<Database>, s: ChatSettlement, limits: Readonly<TelegramPacingLimits> = DAEMON_TELEGRAM_PACING): Promise<void> {
  const chat = await trx
    .selectFrom('telegram_chat_pacing as p')
    .innerJoin('telegram_recipients as r', 'r.id', 'p.recipient_id')
    .select(['p.last_message_at', 'p.recent_sends', 'p.paused_until', 'p.send_not_before', 'p.open_digest_id', 'p.claimed_by', 'r.chat_id'])
    .where('p.recipient_id', '=', s.recipientId)
    .executeTakeFirst();
  if (!chat) return;
  const atIso = s.at.toISOString();
  let { paused_until: pausedUntil, send_not_before: notBefore, recent_sends: recentSends } = chat;
  // Counted at the answer, not at the claim: Telegram counted the request when it arrived, which is
  // before its answer, so spacing sends from the answers keeps their arrivals at least as far apart.
  if (s.sent) {
    const paced = pacingAfterSend({ chatId: chat.chat_id, recentSends, pausedUntil }, s.at.getTime(), limits);
    recentSends = paced.recentSends;
    notBefore = later(notBefore, paced.sendNotBefore);
  }
  if (s.pausedUntil) {
    const paused = pacingAfterRetryAfter({ chatId: chat.chat_id, recentSends: chat.recent_sends, pausedUntil }, s.at.getTime(), s.pausedUntil.getTime(), limits);
    pausedUntil = paused.pausedUntil;
    notBefore = later(notBefore, paused.sendNotBefore);
  }
  if (s.retryAt) notBefore = later(notBefore, s.retryAt.toISOString());
  let openDigestId = chat.open_digest_id;
  if (s.digestId !== null && openDigestId === s.digestId) {
    const pending = await trx.selectFrom('deliveries').select('id').where('digest_id', '=', s.digestId).where('status', '=', 'pending').limit(1).executeTakeFirst();
    if (!pending) openDigestId = null;
  }
  const ours = chat.claimed_by === s.instanceId;
  await trx
    .updateTable('telegram_chat_pacing')
    .set({
      last_message_at: s.accepted ? later(chat.last_message_at, atIso) : chat.last_message_at,
      recent_sends: recentSends,
      paused_until: pausedUntil,
      send_not_before: notBefore,
      open_digest_id: openDigestId,
      ...(ours ? { claimed_by: null, claimed_until: null } : {}),
      updated_at: atIso,
    })
    .where('recipient_id', '=', s.recipientId)
    .execute();
  if (s.accepted && s.digestId !== null) {
    await trx.updateTable('telegram_digests').set({ sent_at: atIso }).where('id', '=', s.digestId).where('sent_at', 'is', null).execute();
  }
}

/**
 * The earliest future moment a chat may become ready for its next message: its pacing bound, its
 * window's end, or a lease running out. A chat with nothing pending only costs a spurious wake-up.
 */
export async function nextChatReadyAt(db: Db, now: Date, windowMs: number): Promise<Date | null> {
  const nowIso = now.toISOString();
  const min = async (column: 'send_not_before' | 'last_message_at' | 'claimed_until', after: string) =>
    (
      await db
        .selectFrom('telegram_chat_pacing')
        .select((eb) => eb.fn.min(column).as('at'))
        .where(column, '>', after)
        .executeTakeFirst()
    )?.at ?? null;
  const windowEnd = windowMs > 0 ? await min('last_message_at', new Date(now.getTime() - windowMs).toISOString()) : null;
  const times = [await min('send_not_before', nowIso), await min('claimed_until', nowIso)]
    .filter((t): t is string => typeof t === 'string')
    .map((t) => Date.parse(t));
  if (typeof windowEnd === 'string') times.push(Date.parse(windowEnd) + windowMs);
  return times.length === 0 ? null : new Date(Math.min(...times));
}

/** Deletes up to `limit` stored messages older than `cutoff` that no delivery names any more (their events were deleted). */
export async function deleteUnusedDigests(db: Kysely<Database>, cutoff: Date, limit: number): Promise<number> {
  const result = await db
    .deleteFrom('telegram_digests')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('telegram_digests as g')
        .select('g.id')
        .where('g.created_at', '<', cutoff.toISOString())
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('deliveries as d').select('d.id').whereRef('d.digest_id', '=', 'g.id'))))
        .limit(limit),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
