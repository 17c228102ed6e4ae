import { TestClock } from '../../../../test/support/test-clock';
import { planChannelUpdates, type ChannelOutcome } from '../../src/dispatch/channels.models';
import { claimLeftToSend, holderStaleMs, isClaimHolderGone, type Host } from '../../src/dispatch/claims.models';
import type { ClaimHolder } from '../../src/dispatch/deliveries.repository';
import { FAILURE_CLASSES_KEPT, failureClassOf, noteFailure } from '../../src/dispatch/failures.models';
import { DELIVERY_TTL_MS, RETRY_CAP_MS, planRetry, retryDelayMs } from '../../src/dispatch/retry.models';
import { BUSY_RESCAN_MS, afterClaim, planClaim, planSends, type SendPlan } from '../../src/dispatch/send-slots.models';

const clock = new TestClock('2026-11-28T03:10:00.000Z');
const now = clock.now();
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();

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

describe('which failures of a delivery are warnings', () => {
  const http503 = { kind: 'retryable' as const, error: 'HTTP 503 Service Unavailable', status: 503 };
  const refused = { kind: 'retryable' as const, error: 'connection refused' };
  test.each<[string, string | null, typeof http503 | typeof refused, { isNew: boolean; previous: string | undefined; stored: string[] }]>([
    ['the first failure', null, http503, { isNew: true, previous: undefined, stored: ['HTTP 503'] }],
    ['the same failure again', '["HTTP 503"]', http503, { isNew: false, previous: 'HTTP 503', stored: ['HTTP 503'] }],
    ['a new kind of failure', '["HTTP 503"]', refused, { isNew: true, previous: 'HTTP 503', stored: ['HTTP 503', 'connection refused'] }],
    ['back to a kind met before: no second warning for it', '["HTTP 503","connection refused"]', http503, { isNew: false, previous: 'connection refused', stored: ['connection refused', 'HTTP 503'] }],
    ['an unreadable stored value counts as no history', 'not json', refused, { isNew: true, previous: undefined, stored: ['connection refused'] }],
  ])('%s', (_name, stored, result, expected) => {
    const note = noteFailure(stored, result);
    expect({ isNew: note.isNew, previous: note.previous, stored: JSON.parse(note.stored) }).toEqual(expected);
  });

  test('an answer is classed by its status, whatever its reason text; a transport failure by its text', () => {
    expect(failureClassOf({ kind: 'retryable', error: 'Telegram 502: Bad Gateway', status: 502 })).toBe('HTTP 502');
    expect(failureClassOf({ kind: 'retryable', error: 'timeout after 5s' })).toBe('timeout after 5s');
  });

  test('the remembered kinds are bounded', () => {
    const many = JSON.stringify(Array.from({ length: FAILURE_CLASSES_KEPT }, (_, i) => `network error (E${i})`));
    expect(JSON.parse(noteFailure(many, { kind: 'retryable', error: 'connection refused' }).stored)).toHaveLength(FAILURE_CLASSES_KEPT);
  });
});

describe('whose claims may be taken over before their lease ends', () => {
  const STALE = 10_000;
  const us = { bootId: 'boot-1', pidNamespace: 'pid:[4026531836]', started: '5000' };
  // This host: pid 100 (us), pid 200 runs (started at tick 7000); no other pid runs.
  const running: Record<number, string> = { 100: '5000', 200: '7000' };
  const host: Host = { hostname: 'box', pid: 100, identity: us, runningProcessStarted: (pid) => running[pid] ?? null, pidAlive: (pid) => pid in running };
  const known = { beat_every_ms: 1_000, boot_id: us.bootId, pid_namespace: us.pidNamespace, process_started: '7000' };
  const unknown = { beat_every_ms: null, boot_id: null, pid_namespace: null, process_started: null };
  const holder: ClaimHolder = { instance_id: 'x', pid: 200, hostname: 'box', heartbeat_at: ago(STALE + 1), stopped_at: null, ...known };
  const fresh = ago(0);
  test.each<[string, ClaimHolder, boolean]>([
    // the holder recorded its identity: this boot, our pid namespace — its pid tells for certain, at once
    ['a live process in our pid namespace keeps its claims, however stale its beat', { ...holder, heartbeat_at: ago(3600_000) }, false],
    ['a dead one loses them at once, its beat still fresh: no waiting', { ...holder, pid: 300, heartbeat_at: fresh }, true],
    ['its pid reused by another process (another start time) is dead too', { ...holder, process_started: '6000', heartbeat_at: fresh }, true],
    ['a previous incarnation under our own pid is dead (another start time)', { ...holder, pid: 100, process_started: '4000', heartbeat_at: fresh }, true],
    ['another instance of this very process keeps them', { ...holder, pid: 100, process_started: '5000' }, false],
    // another pid namespace or boot: the pid means nothing here — the lease decides, never both send
    ['another pid namespace on this host keeps them, whatever its pid and beat (two containers, both pid 1)', { ...holder, pid: 1, pid_namespace: 'pid:[4026532000]', heartbeat_at: ago(3600_000) }, false],
    ['another pid namespace under our own pid keeps them', { ...holder, pid: 100, pid_namespace: 'pid:[4026532000]', process_started: '1' }, false],
    ['another boot (a host with our name, or before a reboot) keeps them until the lease ends', { ...holder, pid: 300, boot_id: 'boot-0' }, false],
    // a graceful stop always counts
    ['an instance that recorded a graceful stop loses them', { ...holder, hostname: 'elsewhere', boot_id: 'boot-0', stopped_at: '2026-11-28T03:00:00.000Z' }, true],
    ['a graceful stop counts even with a fresh beat', { ...holder, heartbeat_at: fresh, stopped_at: fresh }, true],
    ['an instance without a liveness row keeps them until the lease ends', { ...holder, ...unknown, pid: null as unknown as number, hostname: null as unknown as string, heartbeat_at: null }, false],
    // no identity recorded (an older version, no /proc): this host's name, pid gone and a stale beat
    ['no identity: a live process on this host keeps its claims', { ...holder, ...unknown }, false],
    ['no identity: a pid that no longer exists and a stale beat lose them', { ...holder, ...unknown, pid: 300 }, true],
    ['no identity: a pid that no longer exists, with a fresh beat, keeps them (another pid namespace)', { ...holder, ...unknown, pid: 300, heartbeat_at: ago(STALE) }, false],
    ['no identity: an instance under our own pid keeps them even with a stale beat (it may be a live twin)', { ...holder, ...unknown, pid: 100 }, false],
    ['no identity: an instance on another host keeps them until the lease ends', { ...holder, ...unknown, hostname: 'elsewhere', pid: 300 }, false],
    ['no identity, its own beat period recorded (1 min): judged by it, not by ours', { ...holder, ...unknown, beat_every_ms: 60_000, pid: 300, heartbeat_at: ago(60_000) }, false],
    ['no identity, its own beat period recorded: two of its periods without a beat lose them', { ...holder, ...unknown, beat_every_ms: 60_000, pid: 300, heartbeat_at: ago(120_001) }, true],
  ])('%s', (_name, h, gone) => {
    expect(isClaimHolderGone(h, host, now, STALE)).toBe(gone);
  });

  test('without an identity, a beat is stale after two of its periods, never sooner than 10 s', () => {
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

describe('the send-slot planner', () => {
  const limits = { concurrency: 3, perTarget: 2, leaseMs: 30_000 };
  const NOW = 1_000_000;
  const fresh = NOW + 30_000;
  const row = (id: number, target: number, claimedUntil = fresh, channel: 'webhook' | 'telegram' = 'webhook') => ({
    delivery: { id, channel, target_id: target },
    claimedUntil,
  });
  const ids = (rows: Array<{ delivery: { id: number } }>) => rows.map((r) => r.delivery.id);
  /** The queue without the rows a plan started or released, in its order: what the dispatcher keeps. */
  const remainingAfter = <Q>(queue: readonly Q[], plan: SendPlan<Q>) => queue.filter((row) => !plan.start.includes(row) && !plan.release.includes(row));

  test.each<[string, ReturnType<typeof row>[], Array<[string, number]>, number, number[], number[], number[]]>([
    ['oldest first, up to the free slots', [row(1, 1), row(2, 2), row(3, 3), row(4, 4)], [], 0, [1, 2, 3], [], [4]],
    ['slots already taken count', [row(1, 1), row(2, 2)], [['webhook:9', 2]], 2, [1], [], [2]],
    ['a busy channel keeps its rows in place and others pass them', [row(1, 1), row(2, 1), row(3, 1), row(4, 2)], [], 0, [1, 2, 4], [], [3]],
    ['a channel counts what is already in flight', [row(1, 1), row(2, 2)], [['webhook:1', 2]], 2, [2], [], [1]],
    ['the same target id on the other channel is another channel', [row(1, 1), row(2, 1, fresh, 'telegram')], [['webhook:1', 2]], 2, [2], [], [1]],
    ['a claim with less than half a lease left goes back unsent', [row(1, 1, NOW + 14_999), row(2, 1, NOW + 15_000)], [], 0, [2], [1], []],
    ['with every slot taken the rest waits as it is, stale or not', [row(1, 1, NOW), row(2, 2)], [['webhook:9', 3]], 3, [], [], [1, 2]],
    ['an empty queue starts nothing', [], [], 0, [], [], []],
  ])('%s', (_name, queue, inFlight, running, start, release, keep) => {
    const plan = planSends(queue, new Map(inFlight), running, NOW, limits);
    expect([ids(plan.start), ids(plan.release), ids(remainingAfter(queue, plan))]).toEqual([start, release, keep]);
    // Told how many channels the queue holds, the walk may end early: the plan is the same.
    const queuedTargets = new Set(queue.map((r) => `${r.delivery.channel}:${r.delivery.target_id}`)).size;
    const early = planSends(queue, new Map(inFlight), running, NOW, limits, queuedTargets);
    expect([ids(early.start), ids(early.release)]).toEqual([start, release]);
  });

  test('a walk told the queued channels ends once each is seen full', () => {
    // Channel 1 has one slot left: row 1 takes it, row 2 finds it full, and rows 3-5 are never looked at.
    const queue = [row(1, 1), row(2, 1), row(3, 1, NOW), row(4, 1), row(5, 1)];
    const plan = planSends(queue, new Map([['webhook:1', 1]]), 1, NOW, { ...limits, concurrency: 10 }, 1);
    expect([ids(plan.start), ids(plan.release)]).toEqual([[1], []]);
    // Without the count the walk goes on, and releases the stale claim behind (not met in practice: claims end in queue order).
    const full = planSends(queue, new Map([['webhook:1', 1]]), 1, NOW, { ...limits, concurrency: 10 });
    expect([ids(full.start), ids(full.release)]).toEqual([[1], [3]]);
  });

  const claimInputs = (overrides: Partial<Parameters<typeof planClaim>[0]> = {}) => ({
    queue: [] as ReturnType<typeof row>[],
    inFlightPerTarget: new Map<string, number>(),
    limits,
    claimBatch: 8,
    nowMs: NOW,
    busyRescanAt: 0,
    ...overrides,
  });

  test.each<[string, Partial<Parameters<typeof planClaim>[0]>, ReturnType<typeof planClaim>]>([
    ['an empty queue claims a whole batch', {}, { claim: true, limit: 8, skipTargets: [] }],
    ['enough rows ready to fill every slot: no claim', { queue: [row(1, 1), row(2, 2), row(3, 3)] }, { claim: false }],
    ['a full queue: no claim', { queue: Array.from({ length: 8 }, (_, i) => row(i, 1)), inFlightPerTarget: new Map([['webhook:1', 2]]) }, { claim: false }],
    [
      'rows waiting for a busy channel do not count as ready; the busy channel is passed over',
      { queue: [row(1, 1), row(2, 1), row(3, 1)], inFlightPerTarget: new Map([['webhook:1', 2]]) },
      { claim: true, limit: 5, skipTargets: [{ channel: 'webhook', targetId: 1 }] },
    ],
    ['a busy channel and a recent empty rescan: wait', { inFlightPerTarget: new Map([['telegram:4', 2]]), busyRescanAt: NOW + 1 }, { claim: false }],
    [
      'a busy channel once the rescan wait is over: claim, passing it over',
      { inFlightPerTarget: new Map([['telegram:4', 2]]), busyRescanAt: NOW },
      { claim: true, limit: 8, skipTargets: [{ channel: 'telegram', targetId: 4 }] },
    ],
  ])('%s', (_name, overrides, expected) => {
    expect(planClaim(claimInputs(overrides))).toEqual(expected);
    // With the queue counted per channel by the caller: the same plan.
    const inputs = claimInputs(overrides);
    const queuedPerTarget = new Map<string, number>();
    for (const q of inputs.queue) {
      const key = `${q.delivery.channel}:${q.delivery.target_id}`;
      queuedPerTarget.set(key, (queuedPerTarget.get(key) ?? 0) + 1);
    }
    expect(planClaim({ ...inputs, queuedPerTarget })).toEqual(expected);
  });

  test('a claim that passed over busy channels and found nothing makes the next one wait; any other keeps the time', () => {
    const passing = { claim: true as const, limit: 8, skipTargets: [{ channel: 'webhook' as const, targetId: 1 }] };
    const plain = { claim: true as const, limit: 8, skipTargets: [] };
    expect(afterClaim(passing, 0, NOW, 5)).toBe(NOW + BUSY_RESCAN_MS);
    expect(afterClaim(passing, 3, NOW, 5)).toBe(5);
    expect(afterClaim(plain, 0, NOW, 5)).toBe(5);
  });
});
