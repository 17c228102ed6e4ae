import type { ExpressionBuilder } from 'kysely';
import type { Database } from './schema';

/**
 * `machines.quiet_due_at` moved no later than `at` (an ISO time): the value to SET when something
 * the daemon must act on happens (a snooze set or ended, a maintenance window over). Moving it earlier
 * is always safe, since the daemon works out the next due time itself when it looks at the machine;
 * moving it later could skip a due time, so this never does.
 */
export function quietDueNoLaterThan(eb: ExpressionBuilder<Database, 'machines'>, at: string) {
  return eb
    .case()
    .when('quiet_due_at', 'is', null)
    .then(at)
    .when('quiet_due_at', '>', at)
    .then(at)
    .else(eb.ref('quiet_due_at'))
    .end();
}
