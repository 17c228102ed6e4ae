import { REMIND_EVERY_DEFAULT_MS, REMIND_MAX_DEFAULT, type Database, type EventType, type ReminderPolicy } from '@lunasentri/shared';
import type { Transaction } from 'kysely';
import type { Recipient } from '../outbox/outbox.types';

type Trx = Transaction<Database>;

export interface Owner {
  /** the owner's preferences (no row: all on, reminders off) */
  offline: boolean;
  online: boolean;
  /** `machine.flapping` and `machine.flapping_ended` (CONTRACT §6.2) */
  flapping: boolean;
  reminders: ReminderPolicy;
  /** the owner's active webhooks and Telegram chats, webhooks first, each by id */
  channels: Recipient[];
}

async function ownerOf(trx: Trx, userId: number): Promise<Owner> {
  const prefs = await trx
    .selectFrom('notification_preferences')
    .select(['machine_offline', 'machine_online', 'machine_flapping', 'remind_every_ms', 'remind_max'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  const webhooks = await trx.selectFrom('webhooks').select('id').where('user_id', '=', userId).where('is_active', '=', 1).orderBy('id').execute();
  const chats = await trx.selectFrom('telegram_recipients').select('id').where('user_id', '=', userId).where('is_active', '=', 1).orderBy('id').execute();
  return {
    offline: (prefs?.machine_offline ?? 1) === 1,
    online: (prefs?.machine_online ?? 1) === 1,
    flapping: (prefs?.machine_flapping ?? 1) === 1,
    reminders: { everyMs: Number(prefs?.remind_every_ms ?? REMIND_EVERY_DEFAULT_MS), max: Number(prefs?.remind_max ?? REMIND_MAX_DEFAULT) },
    channels: [...webhooks.map((w) => ({ channel: 'webhook' as const, targetId: w.id })), ...chats.map((c) => ({ channel: 'telegram' as const, targetId: c.id }))],
  };
}

/** The owner's channels that want an event of this type (a recovery: see {@link recoveryRecipientsLookup}). */
export function channelsFor(owner: Owner, type: EventType): Recipient[] {
  switch (type) {
    case 'machine.online':
      return owner.online ? owner.channels : [];
    case 'machine.flapping':
    case 'machine.flapping_ended':
      return owner.flapping ? owner.channels : [];
    default:
      return owner.offline ? owner.channels : [];
  }
}

/** Owners looked up once per transaction: within it the answer cannot change, and a batch usually shares a few owners. */
export function ownersLookup(trx: Trx): (userId: number) => Promise<Owner> {
  const byOwner = new Map<number, Promise<Owner>>();
  return (userId) => {
    let found = byOwner.get(userId);
    if (!found) {
      found = ownerOf(trx, userId);
      byOwner.set(userId, found);
    }
    return found;
  };
}

/**
 * The owner's active webhooks and Telegram chats that want this event type (no preferences row means
 * both event types are on), looked up once per owner.
 */
export function recipientsLookup(trx: Trx, type: EventType): (machine: { user_id: number }) => Promise<Recipient[]> {
  const owners = ownersLookup(trx);
  return async (machine) => channelsFor(await owners(machine.user_id), type);
}

const key = (r: Recipient) => `${r.channel}:${r.targetId}`;

/**
 * The channels each outage was announced to: the deliveries of its offline event that were delivered
 * or are still to be (a failed or dead one never reached its channel). An outage's offline event is
 * the one its dedup row stamped: `notified_at` is the event's `occurred_at` (both written in one
 * transaction). `outages` maps machine ids to `notified_at`; a machine missing from the answer has no
 * offline event stored any more (retention deletes finished events after 30 days).
 */
export async function outageAudiences(trx: Trx, outages: ReadonlyMap<number, string>): Promise<Map<number, Set<string>>> {
  const audiences = new Map<number, Set<string>>();
  if (outages.size === 0) return audiences;
  const rows = await trx
    .selectFrom('events as e')
    // A left join: an offline event that went to no channel still says "nobody was told".
    .leftJoin('deliveries as d', (join) => join.onRef('d.event_id', '=', 'e.id').on('d.status', 'in', ['pending', 'delivered']))
    .select(['e.machine_id', 'd.channel', 'd.target_id'])
    // The event that told the channels: an offline event, or a flapping notice that showed the machine offline.
    .where('e.type', 'in', ['machine.offline', 'machine.flapping', 'machine.flapping_ended'])
    .where('e.suppressed', 'is', null)
    .where((eb) => eb.or([...outages].map(([machineId, at]) => eb.and([eb('e.machine_id', '=', machineId), eb('e.occurred_at', '=', at)]))))
    .execute();
  for (const row of rows) {
    let told = audiences.get(row.machine_id);
    if (!told) audiences.set(row.machine_id, (told = new Set()));
    if (row.channel !== null && row.target_id !== null) told.add(key({ channel: row.channel, targetId: row.target_id }));
  }
  return audiences;
}

/**
 * Who hears of a recovery: the owner's channels that want `machine.online` and were told of the outage
 * it ends (see {@link outageAudiences}), so a channel added during an outage never gets a lone
 * recovery. Two cases keep the owner's current channels instead: an owner who turned offline
 * notifications off (they asked for recoveries alone), and an outage whose offline event is no
 * longer stored.
 */
export function recoveryRecipientsLookup(
  trx: Trx,
  audiences: ReadonlyMap<number, Set<string>>,
  owners: (userId: number) => Promise<Owner> = ownersLookup(trx),
): (machine: { id: number; user_id: number }) => Promise<Recipient[]> {
  return async (machine) => {
    const owner = await owners(machine.user_id);
    if (!owner.online) return [];
    const told = audiences.get(machine.id);
    if (!owner.offline || told === undefined) return owner.channels;
    return owner.channels.filter((r) => told.has(key(r)));
  };
}
