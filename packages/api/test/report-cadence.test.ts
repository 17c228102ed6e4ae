import { ReportCadence } from '../src/ingest/report-cadence';

describe('report cadence', () => {
  it('calls a report news until the pace is known, routine at the pace, news after a silence of more than 1.5 gaps', () => {
    const cadence = new ReportCadence({ maxMachines: 10, forgetAfterMs: 3_600_000 });
    expect([0, 30_000, 60_000, 90_500, 120_000].map((at) => cadence.observe(1, at))).toEqual([true, true, false, false, false]);
    expect(cadence.observe(1, 165_001)).toBe(true);
    // A clock that went back is news, and the pace is learnt again.
    expect(cadence.observe(1, 100_000)).toBe(true);
  });

  it('tracks at most maxMachines and forgets machines silent for forgetAfterMs: memory follows the reporting fleet', () => {
    const cadence = new ReportCadence({ maxMachines: 2, forgetAfterMs: 120_000 });
    for (const id of [1, 2, 3]) cadence.observe(id, 0);
    expect(cadence.size).toBe(2);
    // Untracked: always news.
    expect([30_000, 60_000].map((at) => cadence.observe(3, at))).toEqual([true, true]);
    cadence.observe(1, 30_000);
    cadence.observe(1, 60_000);
    // A minute later machine 2 has been silent for 200 s: forgotten on the next walk.
    cadence.observe(1, 200_000);
    expect(cadence.size).toBe(1);
  });
});
