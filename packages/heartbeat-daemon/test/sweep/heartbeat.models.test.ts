import { TestClock } from '../../../../test/support/test-clock';
import {
  awaitsIngestBeat,
  INGEST_DOWN_START_GRACE_MS,
  cutoffOf,
  decide,
  ingestDownWarnable,
  ingestStateOf,
  nextCheckAt,
  offlineCutoffOf,
  offlinePossible,
  resumeProtects,
  type DecisionContext,
  type IngestState,
  type MachineState,
} from '../../src/sweep/heartbeat.models';

const THRESHOLD = 120_000;
const clock = new TestClock('2026-11-28T03:10:00.000Z');
const now = clock.now();
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
/** No API ever recorded liveness: the daemon decides on its own clock. */
const UP: IngestState = { down: false, resumedAt: null, beatAt: null };
const DOWN = (resumedAt: string | null = null): IngestState => ({ down: true, resumedAt, beatAt: null });
const RESUMED = (resumedAt: string): IngestState => ({ down: false, resumedAt, beatAt: null });
/** An API is live and last beat at `beatAt`. */
const BEAT = (beatAt: string, resumedAt: string | null = null): IngestState => ({ down: false, resumedAt, beatAt });

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
    ['a stale first report stays pending while ingest is down too', { status: 'pending', last_seen: ago(THRESHOLD + 1) }, DOWN(), 'none:stale-report'],
    ['a pending machine becomes online even while ingest is down', { status: 'pending', last_seen: ago(1_000) }, DOWN(), 'first-report'],
    // ingest outages
    ['while ingest is down no machine goes offline', { last_seen: ago(THRESHOLD * 10) }, DOWN(ago(3_600_000)), 'none:ingest-down'],
    ['after ingest resumes machines get a full threshold', { last_seen: ago(THRESHOLD * 10) }, RESUMED(ago(THRESHOLD)), 'none:within-threshold'],
    ['a full threshold after the resume, a silent machine goes offline', { last_seen: ago(THRESHOLD * 10) }, RESUMED(ago(THRESHOLD + 1)), 'went-offline'],
    ['a machine that reported after the resume is judged by its report', { last_seen: ago(THRESHOLD + 1) }, RESUMED(ago(THRESHOLD * 3)), 'went-offline'],
    // offline → online only on a real report
    ['an offline machine with a fresh report after it went offline comes back', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(1_000) }, UP, 'came-online'],
    ['a report exactly at the threshold still counts as a recovery', { status: 'offline', status_changed_at: ago(THRESHOLD * 2), last_seen: ago(THRESHOLD) }, UP, 'came-online'],
    ['a report older than the threshold is not a recovery', { status: 'offline', status_changed_at: ago(THRESHOLD * 2), last_seen: ago(THRESHOLD + 1) }, UP, 'none:stale-report'],
    ['the report that led to the outage is not a recovery', { status: 'offline', status_changed_at: ago(1_000), last_seen: ago(1_000) }, UP, 'none:no-new-report'],
    ['a re-enable alone is not a recovery', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(THRESHOLD * 3), enabled_at: ago(0) }, UP, 'none:no-new-report'],
    ['an ingest resume alone is not a recovery', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(THRESHOLD * 3) }, RESUMED(ago(0)), 'none:no-new-report'],
    ['recoveries still happen while ingest is down', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(2_000) }, DOWN(), 'came-online'],
    // offline is decided as of the latest API beat: only a beat after the crossing shows ingest was live then
    ['past the threshold, but the latest API beat is from before the crossing: it waits for one', { last_seen: ago(THRESHOLD + 1) }, BEAT(ago(2)), 'none:awaiting-ingest-beat'],
    ['a beat exactly at the crossing is not yet proof (the boundary is still online)', { last_seen: ago(THRESHOLD + 1) }, BEAT(ago(1)), 'none:awaiting-ingest-beat'],
    ['a beat one millisecond after the crossing: offline', { last_seen: ago(THRESHOLD + 1) }, BEAT(ago(0)), 'went-offline'],
    ['a killed API that is not stale yet (its last beat before the crossing) turns no silence into an outage, however short the threshold', { last_seen: ago(THRESHOLD * 2) }, BEAT(ago(THRESHOLD + 1)), 'none:awaiting-ingest-beat'],
    ['a beat later than now (another clock) counts as now', { last_seen: ago(THRESHOLD + 1) }, BEAT(new Date(now.getTime() + 5_000).toISOString()), 'went-offline'],
    ['within the threshold by now, whatever the beat', { last_seen: ago(THRESHOLD) }, BEAT(ago(0)), 'none:within-threshold'],
    ['after a resume, the full threshold is counted up to the beat', { last_seen: ago(THRESHOLD * 10) }, BEAT(ago(1), ago(THRESHOLD + 1)), 'none:awaiting-ingest-beat'],
    ['recoveries do not wait for a beat', { status: 'offline', status_changed_at: ago(60_000), last_seen: ago(1_000) }, BEAT(ago(THRESHOLD * 2)), 'came-online'],
  ])('%s', (_name, fields, ingest, expected) => {
    const decision = decide(machine(fields), ctx(ingest));
    expect(decision.kind === 'none' ? `none:${decision.reason}` : decision.kind).toBe(expected);
  });

  test('a recovery carries the moment the machine went offline', () => {
    const wentOffline = ago(60_000);
    expect(decide(machine({ status: 'offline', status_changed_at: wentOffline, last_seen: ago(0) }), ctx())).toEqual({ kind: 'came-online', offlineSince: wentOffline });
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
    expect(nextCheckAt({ ...base, ingest: RESUMED(ago(THRESHOLD - 3_000)) }).getTime()).toBe(now.getTime() + 3_001);
  });

  test('the interval stays the upper bound and crossings in the past are ignored', () => {
    expect(nextCheckAt({ ...base, earliestFreshLastSeen: ago(0) }).getTime()).toBe(now.getTime() + 30_000);
    expect(nextCheckAt({ ...base, earliestFreshLastSeen: ago(THRESHOLD * 2) }).getTime()).toBe(now.getTime() + 30_000);
  });

  test('a machine past its crossing that waits for an API beat is checked again one beat later', () => {
    const crossedAt = ago(THRESHOLD + 100); // crossed 99 ms ago; the API last beat before that
    expect(nextCheckAt({ ...base, ingest: BEAT(ago(500)), earliestFreshLastSeen: crossedAt }).getTime()).toBe(now.getTime() + 1_000);
    // A beat already after the crossing: nothing to wait for (the check just decided it).
    expect(nextCheckAt({ ...base, ingest: BEAT(ago(0)), earliestFreshLastSeen: crossedAt }).getTime()).toBe(now.getTime() + 30_000);
  });

  test('only a crossing past by the clock but not as of the latest beat awaits a beat (the loop then checks on the next write)', () => {
    const crossedAt = ago(THRESHOLD + 100);
    expect(awaitsIngestBeat({ ...base, ingest: BEAT(ago(500)), earliestFreshLastSeen: crossedAt })).toBe(true);
    expect(awaitsIngestBeat({ ...base, ingest: BEAT(ago(500)), earliestProtectingEnable: crossedAt })).toBe(true);
    // decided already (a beat after the crossing), not crossed yet, or ingest down: nothing awaits
    expect(awaitsIngestBeat({ ...base, ingest: BEAT(ago(0)), earliestFreshLastSeen: crossedAt })).toBe(false);
    expect(awaitsIngestBeat({ ...base, ingest: BEAT(ago(500)), earliestFreshLastSeen: ago(THRESHOLD - 100) })).toBe(false);
    expect(awaitsIngestBeat({ ...base, ingest: DOWN(), earliestFreshLastSeen: crossedAt })).toBe(false);
    // no API ever recorded: offline is decided on the daemon's own clock, never awaited
    expect(awaitsIngestBeat({ ...base, earliestFreshLastSeen: crossedAt })).toBe(false);
  });

  test('while ingest is down, nothing can cross: one interval', () => {
    expect(nextCheckAt({ ...base, ingest: DOWN(), earliestFreshLastSeen: ago(THRESHOLD - 1_000) }).getTime()).toBe(now.getTime() + 30_000);
  });

  test("while ingest is down just after the daemon's start, the check comes when the start grace ends (to warn on time)", () => {
    const down = { ...base, ingest: DOWN() };
    expect(nextCheckAt({ ...down, startedAt: new Date(now.getTime() - 2_000) }).getTime()).toBe(now.getTime() + INGEST_DOWN_START_GRACE_MS - 2_000);
    expect(nextCheckAt({ ...down, startedAt: new Date(now.getTime() - 60_000) }).getTime()).toBe(now.getTime() + 30_000);
    expect(nextCheckAt({ ...base, startedAt: new Date(now.getTime() - 2_000) }).getTime()).toBe(now.getTime() + 30_000); // ingest up: no reason
  });
});

describe('when an ingest outage is warned of', () => {
  const DOWN: IngestState = { down: true, resumedAt: null, beatAt: null };
  const started = (msAgo: number) => new Date(now.getTime() - msAgo);
  test.each<[string, IngestState, Date, boolean]>([
    ['the API is live: nothing to warn of', UP, started(3_600_000), false],
    ['down, daemon running for an hour: warned at once', DOWN, started(3_600_000), true],
    ['down at the daemon\'s start (both starting together): not yet', DOWN, started(0), false],
    ['down, 1 ms before the grace ends: not yet', DOWN, started(INGEST_DOWN_START_GRACE_MS - 1), false],
    ['down when the grace ends (the API did not come): warned', DOWN, started(INGEST_DOWN_START_GRACE_MS), true],
    ['the grace is the API stale window: 5 s', DOWN, started(5_000), true],
  ])('%s', (_name, ingest, startedAt, warnable) => {
    expect(ingestDownWarnable(ingest, startedAt, now)).toBe(warnable);
  });
});


describe('the threshold rules', () => {
  const cutoff = cutoffOf(now, THRESHOLD);

  test('the cutoff is one threshold before now, as stored text', () => {
    expect(cutoff).toBe(ago(THRESHOLD));
  });

  test.each<[string, IngestState, string]>([
    ['no API ever recorded: as of now', UP, ago(THRESHOLD)],
    ['an API beat 700 ms ago: as of that beat', BEAT(ago(700)), ago(THRESHOLD + 700)],
    ['a beat ahead of our clock: as of now', BEAT(new Date(now.getTime() + 1_000).toISOString()), ago(THRESHOLD)],
  ])('the offline cutoff: %s', (_name, ingest, expected) => {
    expect(offlineCutoffOf(now, THRESHOLD, ingest)).toBe(expected);
  });

  test.each<[string, IngestState, boolean, boolean]>([
    ['ingest up, never resumed: offline possible', UP, false, true],
    ['ingest down: nothing can go offline', DOWN(), false, false],
    ['resumed within the threshold: the resume protects every machine', RESUMED(ago(THRESHOLD - 1)), true, false],
    ['resumed exactly one threshold ago: still protected (the boundary is inside)', RESUMED(ago(THRESHOLD)), true, false],
    ['resumed longer ago: offline possible again', RESUMED(ago(THRESHOLD + 1)), false, true],
  ])('%s', (_name, ingest, protects, possible) => {
    expect(resumeProtects(ingest, cutoff)).toBe(protects);
    expect(offlinePossible(ingest, cutoff)).toBe(possible);
  });

  test.each<[string, Parameters<typeof ingestStateOf>[0], IngestState]>([
    ['no API ever recorded: not down, decided on our own clock', { everRecorded: false, live: true, resumedAt: null, beatAt: null, downSince: null }, UP],
    ['an API live now, with its latest beat', { everRecorded: true, live: true, resumedAt: ago(5), beatAt: ago(2), downSince: null }, BEAT(ago(2), ago(5))],
    ['every API gone', { everRecorded: true, live: false, resumedAt: null, beatAt: null, downSince: ago(9) }, DOWN()],
  ])('ingest state: %s', (_name, liveness, state) => {
    expect(ingestStateOf(liveness)).toEqual(state);
  });
});
