import type { FlapSettings } from '@lunasentri/shared';
import { TestClock } from '../../../../test/support/test-clock';
import type { IngestState } from '../../src/sweep/heartbeat.models';
import { decideChange, nextQuietDueAt, reminderStep, reviewMachine, type QuietContext, type QuietMachine } from '../../src/sweep/quiet.models';

/*
 * The quiet rules as pure decisions (CONTRACT §6.2–§6.4), one table per rule, time from a test clock.
 * Each row: the machine as stored, whether its outage was announced (the dedup row), the context;
 * then the event (or none), what the channels are now told, and what becomes of the dedup row.
 */

const T0 = '2026-11-28T03:00:00.000Z';
const UP: IngestState = { down: false, resumedAt: null, beatAt: null };
const FLAP: FlapSettings = { threshold: 3, windowMs: 60_000, settleMs: 20_000 };
const clock = new TestClock(T0);
const at = (offsetMs: number) => new Date(Date.parse(T0) + offsetMs).toISOString();

function machine(fields: Partial<QuietMachine> = {}): QuietMachine {
  return {
    id: 1,
    status: 'online',
    last_seen: at(-1_000),
    status_changed_at: at(-60_000),
    is_enabled: 1,
    enabled_at: null,
    snoozed_until: null,
    announced_status: 'online',
    announced_at: at(-60_000),
    flapping_since: null,
    flap_changes: null,
    quiet_ended_at: null,
    quiet_due_at: null,
    ...fields,
  };
}

function context(fields: Partial<QuietContext> = {}): QuietContext {
  return { now: clock.now(), thresholdMs: 10_000, ingest: UP, flap: FLAP, inMaintenance: false, policy: { everyMs: 300_000, max: 3 }, ...fields };
}

const summary = (o: ReturnType<typeof decideChange>) => ({
  event: o.event === null ? null : `${o.event.type} ${o.event.status}${o.event.suppressed ? ` [${o.event.suppressed}]` : ''}`,
  told: o.columns.announced_status,
  outage: o.outage.kind,
});

describe('a status change through the quiet rules', () => {
  const offline = { status: 'offline' as const, last_seen: at(-30_000), status_changed_at: at(-20_000), announced_status: 'offline' as const, announced_at: at(-20_000) };
  test.each([
    ['an ordinary outage is announced and starts reminders', machine(), 'went-offline', false, {}, { event: 'machine.offline offline', told: 'offline', outage: 'write' }],
    ['an outage announced before (a restart, another daemon) is not announced again', machine(), 'went-offline', true, {}, { event: null, told: 'online', outage: 'keep' }],
    ['an announced outage ends with a recovery', machine(offline), 'came-online', true, {}, { event: 'machine.online online', told: 'online', outage: 'delete' }],
    ['a recovery from an outage nobody was told of is not news', machine({ ...offline, announced_status: 'online' }), 'came-online', false, {}, { event: null, told: 'online', outage: 'delete' }],
    ['in a window an outage is recorded, held back', machine(), 'went-offline', false, { inMaintenance: true }, { event: 'machine.offline offline [maintenance]', told: 'online', outage: 'keep' }],
    ['in a window a recovery is held back and the outage stays told', machine(offline), 'came-online', true, { inMaintenance: true }, { event: 'machine.online online [maintenance]', told: 'offline', outage: 'delete' }],
    [
      'down again in a window after an announced outage: offline and told so, the dedup row is back',
      machine({ announced_status: 'offline', announced_at: at(-90_000) }),
      'went-offline',
      false,
      { inMaintenance: true },
      { event: 'machine.offline offline [maintenance]', told: 'offline', outage: 'write' },
    ],
    ['while snoozed an outage is held back', machine({ snoozed_until: at(60_000) }), 'went-offline', false, {}, { event: 'machine.offline offline [snooze]', told: 'online', outage: 'keep' }],
    [
      'a next-online snooze ends at the recovery, which is announced since its outage was',
      machine({ ...offline, snoozed_until: 'next-online' }),
      'came-online',
      true,
      {},
      { event: 'machine.online online', told: 'online', outage: 'delete' },
    ],
    [
      'a next-online snooze ends at a recovery nobody was told of: silently',
      machine({ ...offline, announced_status: 'online', snoozed_until: 'next-online' }),
      'came-online',
      false,
      {},
      { event: null, told: 'online', outage: 'delete' },
    ],
    [
      'the change that brings the count to the threshold is announced as flapping',
      machine({ flap_changes: JSON.stringify([at(-30_000), at(-20_000)]) }),
      'went-offline',
      false,
      {},
      { event: 'machine.flapping offline', told: 'offline', outage: 'write' },
    ],
    [
      'a change while flapping is held back',
      machine({ flapping_since: at(-10_000), flap_changes: JSON.stringify([at(-30_000), at(-20_000), at(-10_000)]) }),
      'went-offline',
      false,
      {},
      { event: 'machine.offline offline [flapping]', told: 'online', outage: 'keep' },
    ],
    [
      'changes older than the window do not count',
      machine({ flap_changes: JSON.stringify([at(-61_000), at(-20_000)]) }),
      'went-offline',
      false,
      {},
      { event: 'machine.offline offline', told: 'offline', outage: 'write' },
    ],
    ['a first report is silent and counts as announced online', machine({ status: 'pending', announced_status: null, announced_at: null }), 'first-report', false, {}, { event: null, told: 'online', outage: 'keep' }],
  ] as const)('%s', (_name, m, kind, announced, ctx, expected) => {
    expect(summary(decideChange(m, kind, announced, context(ctx)))).toEqual(expected);
  });

  test('an announced outage schedules its first reminder one remind_every after the announcement; flapping schedules none', () => {
    expect(decideChange(machine(), 'went-offline', false, context()).outage).toEqual({ kind: 'write', notifiedAt: T0, nextReminderAt: at(300_000) });
    const flapping = decideChange(machine({ flap_changes: JSON.stringify([at(-30_000), at(-20_000)]) }), 'went-offline', false, context());
    expect(flapping.outage).toEqual({ kind: 'write', notifiedAt: T0, nextReminderAt: null });
    expect(flapping.columns.quiet_due_at).toBe(at(20_000)); // it may settle then
  });
});

describe('a review when a quiet due time has come', () => {
  test.each([
    ['a snooze that ran out: announced online, offline now, silent past the threshold from the end', machine({ status: 'offline', last_seen: at(-60_000), snoozed_until: at(-10_001) }), false, {}, { event: 'machine.offline offline', told: 'offline', outage: 'write' }],
    ['the same within the threshold from the end: nothing yet', machine({ status: 'offline', last_seen: at(-60_000), snoozed_until: at(-5_000) }), false, {}, { event: null, told: 'online', outage: 'keep' }],
    ['a window over: announced offline, online now', machine({ announced_status: 'offline', quiet_ended_at: at(-1_000) }), false, {}, { event: 'machine.online online', told: 'online', outage: 'delete' }],
    ['a window over: announced offline, offline now: nothing', machine({ status: 'offline', announced_status: 'offline', quiet_ended_at: at(-1_000) }), true, {}, { event: null, told: 'offline', outage: 'keep' }],
    ['another window still open: nothing yet', machine({ announced_status: 'offline', quiet_ended_at: at(-1_000) }), false, { inMaintenance: true }, { event: null, told: 'offline', outage: 'keep' }],
    ['an owed offline while ingest is down: nothing yet', machine({ status: 'offline', last_seen: at(-60_000), quiet_ended_at: at(-30_000) }), false, { ingest: { down: true, resumedAt: null, beatAt: null } }, { event: null, told: 'online', outage: 'keep' }],
    [
      'flapping, kept offline for the settle time: flapping_ended announces offline',
      machine({ status: 'offline', status_changed_at: at(-20_000), flapping_since: at(-40_000), flap_changes: JSON.stringify([at(-40_000)]) }),
      false,
      {},
      { event: 'machine.flapping_ended offline', told: 'offline', outage: 'write' },
    ],
    [
      'flapping, not settled yet',
      machine({ status: 'offline', status_changed_at: at(-19_999), flapping_since: at(-40_000), flap_changes: JSON.stringify([at(-40_000)]) }),
      false,
      {},
      { event: null, told: 'online', outage: 'keep' },
    ],
    [
      'settling inside a window: held back, flapping over',
      machine({ status_changed_at: at(-20_000), flapping_since: at(-40_000) }),
      false,
      { inMaintenance: true },
      { event: 'machine.flapping_ended online [maintenance]', told: 'online', outage: 'keep' },
    ],
  ] as const)('%s', (_name, m, announced, ctx, expected) => {
    expect(summary(reviewMachine(m, announced, context(ctx)))).toEqual(expected);
  });

  test('an ended snooze is cleared, its end becomes the quiet end, and the next due time is the crossing from it', () => {
    const outcome = reviewMachine(machine({ status: 'offline', last_seen: at(-60_000), snoozed_until: at(-5_000) }), false, context());
    expect(outcome.columns).toMatchObject({ snoozed_until: null, quiet_ended_at: at(-5_000), quiet_due_at: at(5_001) });
  });
});

describe('the next quiet due time', () => {
  test.each([
    ['nothing to watch', machine(), null],
    ['a timed snooze: its end', machine({ snoozed_until: at(60_000) }), at(60_000)],
    ['next-online: no time', machine({ snoozed_until: 'next-online' }), null],
    ['flapping: the settle time', machine({ flapping_since: at(-5_000), status_changed_at: at(-5_000) }), at(15_000)],
    ['an owed offline: the crossing', machine({ status: 'offline', last_seen: at(-5_000) }), at(5_001)],
    ['an owed offline already past the crossing: a beat from now', machine({ status: 'offline', last_seen: at(-60_000) }), at(1_000)],
    ['an owed offline in a window: the window end decides', machine({ status: 'offline', last_seen: at(-60_000) }), null, { inMaintenance: true }],
  ] as const)('%s', (_name, m, expected, ctx: Partial<QuietContext> = {}) => {
    expect(nextQuietDueAt(m, context(ctx))).toBe(expected);
  });
});

describe('reminders of an announced outage', () => {
  const down = machine({ status: 'offline', status_changed_at: T0, announced_status: 'offline', announced_at: T0 });
  const row = (sent: number, next: string | null) => ({ notified_at: T0, reminders_sent: sent, next_reminder_at: next });
  test.each([
    ['due: the first', down, row(0, at(300_000)), 300_000, {}, { kind: 'send', reminder: 1, nextReminderAt: at(600_000) }],
    ['not yet', down, row(0, at(300_000)), 299_999, {}, { kind: 'not-due' }],
    ['after a stop across two due times: one, then the grid', down, row(1, at(600_000)), 1_260_000, {}, { kind: 'send', reminder: 2, nextReminderAt: at(1_500_000) }],
    ['the last one', down, row(2, at(900_000)), 900_000, {}, { kind: 'send', reminder: 3, nextReminderAt: null }],
    ['snoozed: stopped', { ...down, snoozed_until: 'next-online' }, row(0, at(300_000)), 300_000, {}, { kind: 'stop' }],
    ['in a window: stopped', down, row(0, at(300_000)), 300_000, { inMaintenance: true }, { kind: 'stop' }],
    ['a window ended since the announcement: stopped', { ...down, quiet_ended_at: at(100_000) }, row(0, at(300_000)), 300_000, {}, { kind: 'stop' }],
    ['disabled and enabled again since: stopped', { ...down, enabled_at: at(100_000) }, row(0, at(300_000)), 300_000, {}, { kind: 'stop' }],
    ['flapping: stopped', { ...down, flapping_since: at(100_000) }, row(0, at(300_000)), 300_000, {}, { kind: 'stop' }],
    ['reminders turned off: stopped', down, row(0, at(300_000)), 300_000, { policy: { everyMs: 0, max: 3 } }, { kind: 'stop' }],
  ] as const)('%s', (_name, m, r, offsetMs, ctx, expected) => {
    clock.set(at(offsetMs));
    try {
      expect(reminderStep(m, r, context(ctx))).toEqual(expected);
    } finally {
      clock.set(T0);
    }
  });
});
