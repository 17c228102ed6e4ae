import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { formatDuration, parseRemindEvery, parseRemindMax, QuietInputError, REMIND_EVERY_DEFAULT_MS, REMIND_MAX_DEFAULT, type Clock, type Database } from '@lunasentri/shared';
import type { ApiContext } from '../http/context';
import { parsedOrBadRequest } from '../http/errors';

/** The preferences as the API shows them (CONTRACT §4, §6.2, §6.4). */
interface Preferences {
  machine_offline: boolean;
  machine_online: boolean;
  machine_flapping: boolean;
  /** Go duration, `0s` = off */
  remind_every: string;
  remind_max: number;
}

interface StoredPreferences {
  machine_offline: boolean;
  machine_online: boolean;
  machine_flapping: boolean;
  remindEveryMs: number;
  remindMax: number;
}

const FLAGS = ['machine_offline', 'machine_online', 'machine_flapping'] as const;
const FIELDS = new Set<string>([...FLAGS, 'remind_every', 'remind_max']);
const DEFAULTS: StoredPreferences = { machine_offline: true, machine_online: true, machine_flapping: true, remindEveryMs: REMIND_EVERY_DEFAULT_MS, remindMax: REMIND_MAX_DEFAULT };

/** No row means the defaults: every notification on, reminders off. */
async function readPreferences(db: Kysely<Database>, userId: number): Promise<StoredPreferences> {
  const row = await db
    .selectFrom('notification_preferences')
    .select(['machine_offline', 'machine_online', 'machine_flapping', 'remind_every_ms', 'remind_max'])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) return DEFAULTS;
  return {
    machine_offline: row.machine_offline === 1,
    machine_online: row.machine_online === 1,
    machine_flapping: row.machine_flapping === 1,
    remindEveryMs: Number(row.remind_every_ms),
    remindMax: Number(row.remind_max),
  };
}

const view = (p: StoredPreferences): Preferences => ({
  machine_offline: p.machine_offline,
  machine_online: p.machine_online,
  machine_flapping: p.machine_flapping,
  remind_every: formatDuration(p.remindEveryMs),
  remind_max: p.remindMax,
});

/**
 * Reads a `PUT` body: at least one known field, each checked (booleans; `remind_every` a Go
 * duration, `"0s"` or at least 5m; `remind_max` 1–100). Throws `QuietInputError`.
 */
function parsePatch(body: unknown): Partial<StoredPreferences> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new QuietInputError('', 'preferences must be a JSON object');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) throw new QuietInputError(unknown, `${unknown.slice(0, 64)} is not a preference (${[...FIELDS].join(', ')})`);
  if (Object.keys(record).length === 0) throw new QuietInputError('', `give at least one of ${[...FIELDS].join(', ')}`);
  const patch: Partial<StoredPreferences> = {};
  for (const flag of FLAGS) {
    if (record[flag] === undefined) continue;
    if (typeof record[flag] !== 'boolean') throw new QuietInputError(flag, `${flag} must be true or false; got ${JSON.stringify(record[flag])}`);
    patch[flag] = record[flag] as boolean;
  }
  if (record.remind_every !== undefined) patch.remindEveryMs = parseRemindEvery(record.remind_every);
  if (record.remind_max !== undefined) patch.remindMax = parseRemindMax(record.remind_max);
  return patch;
}

async function writePreferences(db: Kysely<Database>, clock: Clock, userId: number, patch: Partial<StoredPreferences>): Promise<StoredPreferences> {
  return db.transaction().execute(async (trx) => {
    const next = { ...(await readPreferences(trx, userId)), ...patch };
    const values = {
      machine_offline: next.machine_offline ? 1 : 0,
      machine_online: next.machine_online ? 1 : 0,
      machine_flapping: next.machine_flapping ? 1 : 0,
      remind_every_ms: next.remindEveryMs,
      remind_max: next.remindMax,
      updated_at: clock.now().toISOString(),
    } as const;
    await trx
      .insertInto('notification_preferences')
      .values({ user_id: userId, ...values })
      .onConflict((oc) => oc.column('user_id').doUpdateSet(values))
      .execute();
    return next;
  });
}

export function registerPreferenceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/notifications/preferences', async (request) => view(await readPreferences(ctx.db, request.userId)));

  app.put('/notifications/preferences', { config: { area: 'preferences' } }, async (request) => {
    const patch = parsedOrBadRequest('preferences', () => parsePatch(request.body));
    return view(await writePreferences(ctx.db, ctx.clock, request.userId, patch));
  });
}
