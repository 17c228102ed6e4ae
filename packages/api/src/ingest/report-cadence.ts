/**
 * Each machine's reporting pace as this process has seen it, to tell a routine report from one that
 * may matter at once. A report is *routine* when its machine reported before and the gap since then is
 * at most {@link LATE_FACTOR} times the gap before that: the machine keeps its pace, so it cannot have
 * been declared offline meanwhile (the threshold is longer than an agent's interval, or it would flap).
 * Anything else — a machine seen for the first time, its second report, a report after a longer
 * silence than usual (a recovery) — is *news*, and is written without delay.
 *
 * Memory follows the machines reporting to this process: at most `maxMachines` are tracked (beyond
 * that every report of an untracked machine is news, the old behaviour), and machines silent for
 * `forgetAfterMs` are forgotten.
 */
export class ReportCadence {
  private readonly lastAt = new Map<number, number>();
  private readonly gap = new Map<number, number>();
  private lastSweepMs = 0;

  constructor(private readonly options: { maxMachines: number; forgetAfterMs: number }) {}

  /** Records a report received at `atMs` and says whether it is news (see the class comment). */
  observe(machineId: number, atMs: number): boolean {
    this.forgetSilent(atMs);
    const last = this.lastAt.get(machineId);
    if (last === undefined && this.lastAt.size >= this.options.maxMachines) return true;
    this.lastAt.set(machineId, atMs);
    if (last === undefined || atMs < last) {
      this.gap.delete(machineId);
      return true;
    }
    const gap = atMs - last;
    const usual = this.gap.get(machineId);
    this.gap.set(machineId, gap);
    return usual === undefined || gap > usual * LATE_FACTOR;
  }

  get size(): number {
    return this.lastAt.size;
  }

  /** At most once per minute: a walk over the tracked machines costs microseconds per thousand. */
  private forgetSilent(nowMs: number): void {
    if (nowMs - this.lastSweepMs < 60_000 && nowMs >= this.lastSweepMs) return;
    this.lastSweepMs = nowMs;
    for (const [machineId, at] of this.lastAt) {
      if (nowMs - at > this.options.forgetAfterMs) {
        this.lastAt.delete(machineId);
        this.gap.delete(machineId);
      }
    }
  }
}

/** A gap this many times longer than the one before is a silence, not jitter. */
export const LATE_FACTOR = 1.5;
