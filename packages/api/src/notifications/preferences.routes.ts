import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock, Database } from '@lunasentri/shared';
import type { ApiContext } from '../http/context';

const updateSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { machine_offline: { type: 'boolean' }, machine_online: { type: 'boolean' } },
} as const;

interface Preferences {
  machine_offline: boolean;
  machine_online: boolean;
}

/** No row means the defaults: both notifications on. */
async function readPreferences(db: Kysely<Database>, userId: number): Promise<Preferences> {
  const row = await db.selectFrom('notification_preferences').select(['machine_offline', 'machine_online']).where('user_id', '=', userId).executeTakeFirst();
  return { machine_offline: row ? row.machine_offline === 1 : true, machine_online: row ? row.machine_online === 1 : true };
}

async function writePreferences(db: Kysely<Database>, clock: Clock, userId: number, patch: Partial<Preferences>): Promise<Preferences> {
  return db.transaction().execute(async (trx) => {
    const next = { ...(await readPreferences(trx, userId)), ...patch };
    const values = { machine_offline: next.machine_offline ? 1 : 0, machine_online: next.machine_online ? 1 : 0, updated_at: clock.now().toISOString() } as const;
    await trx
      .insertInto('notification_preferences')
      .values({ user_id: userId, ...values })
      .onConflict((oc) => oc.column('user_id').doUpdateSet(values))
      .execute();
    return next;
  });
}

export function registerPreferenceRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/notifications/preferences', (request) => readPreferences(ctx.db, request.userId));

  app.put('/notifications/preferences', { schema: { body: updateSchema }, config: { area: 'preferences' } }, (request) =>
    writePreferences(ctx.db, ctx.clock, request.userId, request.body as Partial<Preferences>),
  );
}
