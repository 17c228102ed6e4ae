import { TestClock } from '@lunasentri/shared';
import { decide, decideTransitions, nextCheckAt, type DecisionContext, type IngestState, type MachineState } from '../src/heartbeat.models';
import { planChannelUpdates, type ChannelOutcome } from '../src/channels.models';
import { claimLeftToSend, holderStaleMs, isClaimHolderGone } from '../src/claims.models';
import { DELIVERY_TTL_MS, RETRY_CAP_MS, planRetry, retryDelayMs } from '../src/retry.models';

const THRESHOLD = 120_000;
const clock = new TestClock('2026-11-28T03:10:00.000Z');
const now = clock.now();
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const UP: IngestState = { down: false, resumedAt: null };

function machine(fields: Partial<MachineState>): MachineState {
  return { id: 1, status: 'online', last_seen: ago(1_000), status_changed_at: ago(3_600_000), is_enabled: 1, enabled_at: null, ...fields };
}

function ctx(ingest: IngestState = UP): DecisionContext {
  return { now, thresholdMs: THRESHOLD, ingest };
}

describe('the transition decision', () => {
  test.each<[string, Partial<MachineState>, IngestState, string]>([
    // online → offline, inclusive boundary
    ['an online machine that reported just now stays online', { last_seen: ago(0) }, UP, 'none:within-threshold'],
    ['exactly at the threshold a machine is still online', { last_seen: ago(THRESHOLD) }, UP, 'none:within-threshold'],
    ['one millisecond past the threshold it goes offline', { last_seen: ago(THRESHOLD + 1) }, UP, 'went-offline'],
    ['long silence: offline', { last_seen: ago(THRESHOLD * 10) }, UP, 'went-offline'],
    // disabled
    ['a disabled silent machine is skipped', { is_enabled: 0, last_seen: ago(THRESHOLD * 10) }, UP, 'none:disabled'],
    ['a disabled offline machine that reports is skipped', { status: 'offline', is_enabled: 0, last_seen: ago(0), status_changed_at: ago(60_000) }, UP, 'none:disabled'],
    ['a disabled pending machine that reported is skipped', { status: 'pending', is_enabled: 0, last_seen: ago(0) }, UP, 'none:disabled'],
    // re-enabled: a full threshold from the re-enable
    ['a re-enabled machine gets a full threshold from the re-enable', { last_seen: ago(THRESHOLD * 10), enabled_at: ago(THRESHOLD) }, UP, 'none:within-threshold'],
    ['a re-enabled machine still silent a threshold after the re-enable goes offline', { last_seen: ago(THRESHOLD * 10), enabled_at: ago(THRESHOLD + 1) }, UP, 'went-offline'],
    ['an old re-enable does not hide a silence', { last_seen: ago(THRESHOLD + 1), enabled_at: ago(THRESHOLD * 5) }, UP, 'went-offline'],
    // pending
    ['a pending machine that never reported stays pending', { status: 'pending', last_seen: null }, UP, 'none:never-reported'],
    ['a pending machine that reported becomes online silently', { status: 'pending', last_seen: ago(1_000) }, UP, 'first-report'],
    ['a pending machine reporting exactly at the threshold becomes online', { status: 'pending', last_seen: ago(THRESHOLD) }, UP, 'first-report'],
    ['a pending machine whose only report is stale stays pending (never online, so never offline)', { status: 'pending', last_seen: ago(THRESHOLD + 1) }, UP, 'none:stale-report'],
    ['a stale first report stays pending while ingest is down too', { status: 'pending', last_seen: ago(THRESHOLD + 1) }, { down: true, resumedAt: null }, 'none:stale-report'],
    ['a pending machine becomes online even while ingest is down', { status: 'pending', last_seen: ago(1_000) }, { down: true, resumedAt: null }, 'first-report'],
    // ingest outages
    ['while ingest is down no machine goes offline', { last_seen: ago(THRESHOLD * 10) }, { down: true, resumedAt: ago(3_600_000) }, 'none:ingest-down'],
    ['after ingest resumes machines get a full threshold', { last_seen: ago(THRESHOLD * 10) }, { down: false, resumedAt: ago(THRESHOLD) }, 'none:within-threshold'],
    ['a full threshold after the resume, a silent machine goes offline', { last_seen: ago(THRESHOLD * 10) }, { down: false, resumedAt: ago(THRESHOLD + 1) }, 'went-offline'],
    ['a machine that reported after the resume is judged by its report', { last_seen: ago(THRESHOLD + 1) }, { down: false, resumedAt: ago(THRESHOLD * 3) }, 'went-offline'],
    // offline → online only on a real report
    ['an offline machine with a fresh report after it went offline comes back', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(1_000) }, UP, 'came-online'],
    ['a report exactly at the threshold still counts as a recovery', { status: 'offline', status_changed_at: ago(THRESHOLD * 2), last_seen: ago(THRESHOLD) }, UP, 'came-online'],
    ['a report older than the threshold is not a recovery', { status: 'offline', status_changed_at: ago(THRESHOLD * 2), last_seen: ago(THRESHOLD + 1) }, UP, 'none:stale-report'],
    ['the report that led to the outage is not a recovery', { status: 'offline', status_changed_at: ago(1_000), last_seen: ago(1_000) }, UP, 'none:no-new-report'],
    ['a re-enable alone is not a recovery', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(THRESHOLD * 3), enabled_at: ago(0) }, UP, 'none:no-new-report'],
    ['an ingest resume alone is not a recovery', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(THRESHOLD * 3) }, { down: false, resumedAt: ago(0) }, 'none:no-new-report'],
    ['recoveries still happen while ingest is down', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(2_000) }, { down: true, resumedAt: null }, 'came-online'],
  ])('%s', (_name, fields, ingest, expected) => {
    const decision = decide(machine(fields), ctx(ingest));
    expect(decision.kind === 'none' ? `none:${decision.reason}` : decision.kind).toBe(expected);
  });

  test('a recovery carries the moment the machine went offline', () => {
    const wentOffline = ago(60_000);
    expect(decide(machine({ status: 'offline', status_changed_at: wentOffline, last_seen: ago(0) }), ctx())).toEqual({ kind: 'came-online', offlineSince: wentOffline });
  });

  test('decideTransitions keeps only the machines that change, in input order', () => {
    const rows = [
      machine({ id: 1, last_seen: ago(THRESHOLD + 1) }),
      machine({ id: 2, last_seen: ago(5) }),
      machine({ id: 3, status: 'pending', last_seen: ago(5) }),
    ];
    expect(decideTransitions(rows, ctx()).map((t) => [t.machine.id, t.decision.kind])).toEqual([
      [1, 'went-offline'],
      [3, 'first-report'],
    ]);
  });
});

describe('when the next check runs', () => {
  const base = { now, intervalMs: 30_000, thresholdMs: THRESHOLD, ingest: UP, earliestFreshLastSeen: null, earliestProtectingEnable: null };

  test('with nothing about to cross, one interval from now', () => {
    expect(nextCheckAt(base).toISOString()).toBe(new Date(now.getTime() + 30_000).toISOString());
  });

  test('just past the threshold of the earliest online machine, when that comes before the interval', () => {
    const lastSeen = ago(THRESHOLD - 5_000);
    expect(nextCheckAt({ ...base, earliestFreshLastSeen: lastSeen }).getTime()).toBe(now.getTime() + 5_001);
  });

  test('a re-enable or an ingest resume that ends a threshold sooner wakes it too', () => {
    expect(nextCheckAt({ ...base, earliestProtectingEnable: ago(THRESHOLD - 2_000) }).getTime()).toBe(now.getTime() + 2_001);
    expect(nextCheckAt({ ...base, ingest: { down: false, resumedAt: ago(THRESHOLD - 3_000) } }).getTime()).toBe(now.getTime() + 3_001);
  });

  test('the interval stays the upper bound and crossings in the past are ignored', () => {
    expect(nextCheckAt({ ...base, earliestFreshLastSeen: ago(0) }).getTime()).toBe(now.getTime() + 30_000);
    expect(nextCheckAt({ ...base, earliestFreshLastSeen: ago(THRESHOLD * 2) }).getTime()).toBe(now.getTime() + 30_000);
  });

  test('while ingest is down, nothing can cross: one interval', () => {
    expect(nextCheckAt({ ...base, ingest: { down: true, resumedAt: null }, earliestFreshLastSeen: ago(THRESHOLD - 1_000) }).getTime()).toBe(now.getTime() + 30_000);
  });
});

describe('the retry schedule', () => {
  test('delays grow, stay within [half, full] of the exponential step, and are capped', () => {
    expect(retryDelayMs(1, () => 0)).toBe(2_500);
    expect(retryDelayMs(1, () => 1)).toBe(5_000);
    expect(retryDelayMs(2, () => 1)).toBe(10_000);
    expect(retryDelayMs(4, () => 0.5)).toBe(30_000);
    expect(retryDelayMs(50, () => 1)).toBe(RETRY_CAP_MS);
  });

  test("a server's Retry-After is a floor", () => {
    const plan = planRetry({ now, occurredAt: ago(0), failedAttempts: 1, retryAfterMs: 90_000, random: () => 0 });
    expect(plan).toEqual({ kind: 'retry', at: new Date(now.getTime() + 90_000) });
  });

  test('the last try happens at the 24 h deadline, and a failure after it is dead', () => {
    const occurredAt = ago(DELIVERY_TTL_MS - 1_000);
    expect(planRetry({ now, occurredAt, failedAttempts: 30, random: () => 1 })).toEqual({ kind: 'retry', at: new Date(now.getTime() + 1_000) });
    expect(planRetry({ now, occurredAt: ago(DELIVERY_TTL_MS), failedAttempts: 30, random: () => 1 })).toEqual({ kind: 'dead', reason: 'expired' });
  });

  test.each<[string, number, number | undefined, ReturnType<typeof planRetry>]>([
    // [name, time left to the deadline, Retry-After, plan]
    ['Retry-After well within the deadline: retried when the server allows', 3600_000, 600_000, { kind: 'retry', at: new Date(now.getTime() + 600_000) }],
    ['Retry-After ending exactly at the deadline: retried at the deadline', 600_000, 600_000, { kind: 'retry', at: new Date(now.getTime() + 600_000) }],
    ['Retry-After reaching 1 ms past the deadline: dead now, never retried before the server allows', 600_000, 600_001, { kind: 'dead', reason: 'retry-after-past-deadline' }],
    ['Retry-After of a day near the deadline: dead now', 60_000, 24 * 3600_000, { kind: 'dead', reason: 'retry-after-past-deadline' }],
    ['no Retry-After: the backoff is cut to the deadline', 1_000, undefined, { kind: 'retry', at: new Date(now.getTime() + 1_000) }],
  ])('%s', (_name, left, retryAfterMs, plan) => {
    expect(planRetry({ now, occurredAt: ago(DELIVERY_TTL_MS - left), failedAttempts: 1, retryAfterMs, random: () => 1 })).toEqual(plan);
  });
});

describe('whose claims may be taken over before their lease ends', () => {
  const STALE = 10_000;
  const host = { hostname: 'box', pid: 100, pidAlive: (pid: number) => pid === 200 };
  const holder = { instance_id: 'x', pid: 200, hostname: 'box', heartbeat_at: ago(STALE + 1) as string | null, stopped_at: null as string | null };
  const fresh = ago(STALE);
  test.each<[string, typeof holder, boolean]>([
    ['a live process on this host keeps its claims', holder, false],
    ['a process on this host that no longer exists and whose beat is stale loses them', { ...holder, pid: 300 }, true],
    ['a pid that no longer exists, with a fresh beat, keeps them (another pid namespace)', { ...holder, pid: 300, heartbeat_at: fresh }, false],
    ['an instance under our own pid with a fresh beat keeps them (two containers, both pid 1)', { ...holder, pid: 100, heartbeat_at: fresh }, false],
    ['an instance under our own pid keeps them even with a stale beat (it may be a live twin)', { ...holder, pid: 100 }, false],
    ['an instance that recorded a graceful stop loses them', { ...holder, hostname: 'elsewhere', stopped_at: '2026-11-28T03:00:00.000Z' }, true],
    ['a graceful stop counts even with a fresh beat', { ...holder, heartbeat_at: fresh, stopped_at: fresh }, true],
    ['an instance on another host keeps them until the lease ends', { ...holder, hostname: 'elsewhere', pid: 300 }, false],
    ['an instance without a liveness row keeps them until the lease ends', { ...holder, pid: null as unknown as number, hostname: null as unknown as string, heartbeat_at: null }, false],
  ])('%s', (_name, h, gone) => {
    expect(isClaimHolderGone(h, host, now, STALE)).toBe(gone);
  });

  test('a beat is stale after two intervals, never sooner than 10 s', () => {
    expect(holderStaleMs(30_000)).toBe(60_000);
    expect(holderStaleMs(1_000)).toBe(10_000);
  });
});

describe('channel bookkeeping for a batch of outcomes', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 28, 3, 0, s));
  const ok = (targetId: number, s: number, channel: 'webhook' | 'telegram' = 'webhook') => ({ channel, targetId, success: true as const, at: at(s) });
  const fail = (targetId: number, s: number, error = 'HTTP 500', deactivate = false) => ({ channel: 'webhook' as const, targetId, success: false as const, error, deactivate, at: at(s) });

  test.each<[string, ChannelOutcome[], ChannelOutcome[]]>([
    ['a run of successes on one webhook is one update, the latest', [ok(1, 1), ok(1, 2), ok(1, 3)], [ok(1, 3)]],
    ['each channel gets its own', [ok(1, 1), ok(2, 2), ok(1, 3), ok(2, 4, 'telegram')], [ok(2, 2), ok(1, 3), ok(2, 4, 'telegram')]],
    ['failures are all kept, in order (each counts)', [fail(1, 1), fail(1, 2)], [fail(1, 1), fail(1, 2)]],
    ['a success before a failure is written before it', [ok(1, 1), ok(1, 2), fail(1, 3)], [ok(1, 2), fail(1, 3)]],
    ['a success after failures is written after them (it resets the count)', [fail(1, 1), ok(1, 2), ok(1, 3)], [fail(1, 1), ok(1, 3)]],
    ['a deactivation stays in place', [ok(1, 1), fail(1, 2, 'HTTP 410 Gone', true), ok(2, 3)], [ok(1, 1), fail(1, 2, 'HTTP 410 Gone', true), ok(2, 3)]],
  ])('%s', (_name, outcomes, plan) => {
    expect(planChannelUpdates(outcomes)).toEqual(plan);
  });
});

describe('whether a queued claim may still be sent', () => {
  test.each<[number, boolean]>([
    [30_000, true],
    [15_000, true], // exactly half the lease left
    [14_999, false],
    [0, false],
    [-1, false],
  ])('%i ms of a 30 s lease left: %s', (left, expected) => {
    expect(claimLeftToSend(1_000_000 + left, 1_000_000, 30_000)).toBe(expected);
  });
});
