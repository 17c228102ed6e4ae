import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** Kernel clock ticks per second, for utime/stime in /proc/<pid>/stat (usually 100). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const text = execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim();
    const parsed = Number.parseInt(text, 10);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`getconf CLK_TCK printed ${JSON.stringify(text)}`);
    clockTicks = parsed;
  }
  return clockTicks;
}

export interface ProcSample {
  /** Date.now() when read */
  at: number;
  /** user + system CPU time of all the process's threads so far, ms */
  cpuMs: number;
  /**
   * The same CPU time from the scheduler (/proc/<pid>/task/<tid>/schedstat, nanoseconds, summed over
   * live threads): not rounded to 10 ms ticks, so it separates 1 ms/s from 3 ms/s in a short window.
   */
  schedCpuMs: number;
  /** resident set now, KiB */
  rssKb: number;
  /** peak resident set since the process started (VmHWM), KiB */
  hwmKb: number;
}

/** The executable's name (`comm`), to check that we measure node and not a wrapper shell. */
export function processName(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

/** One reading of a live process; throws if it is gone. */
export function readProc(pid: number): ProcSample {
  const at = Date.now();
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may itself contain spaces: fields are counted after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (field 14) and stime (field 15) are at 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    at,
    cpuMs: (ticks * 1000) / clockTicksPerSecond(),
    schedCpuMs: schedulerCpuMs(pid),
    rssKb: statusKb(status, 'VmRSS'),
    hwmKb: statusKb(status, 'VmHWM'),
  };
}

function schedulerCpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // A thread that ended between readdir and read.
    }
  }
  return ns / 1e6;
}

function statusKb(status: string, key: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`/proc status has no ${key}`);
  return Number(match[1]);
}

/** Reads a process every `everyMs` until stopped; keeps every sample (a few hundred at most). */
export class ProcSampler {
  readonly samples: ProcSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    private readonly everyMs: number,
  ) {}

  start(): this {
    this.take();
    this.timer = setInterval(() => this.take(), this.everyMs);
    return this;
  }

  /** Takes a last sample (if the process still lives) and stops. */
  stop(): ProcSample[] {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.take();
    return this.samples;
  }

  take(): void {
    try {
      this.samples.push(readProc(this.pid));
    } catch {
      // The process exited between two readings: the samples so far are all there is.
    }
  }
}

export interface CpuWindow {
  fromMs: number;
  toMs: number;
  /** from utime + stime */
  cpuMsPerSecond: number;
  /** from schedstat */
  schedCpuMsPerSecond: number;
}

/**
 * Splits samples taken after `fromAt` into consecutive windows of about `windowMs` and gives the CPU
 * rate of each. Windows are seconds long because utime/stime move in whole ticks (10 ms): a
 * one-second window could only say 0 or 10 ms/s for a near-idle process.
 */
export function cpuWindows(samples: readonly ProcSample[], fromAt: number, windowMs: number): CpuWindow[] {
  const usable = samples.filter((s) => s.at >= fromAt);
  const windows: CpuWindow[] = [];
  let start = usable[0];
  for (const sample of usable) {
    if (!start) break;
    if (sample.at - start.at >= windowMs) {
      windows.push({
        fromMs: start.at - fromAt,
        toMs: sample.at - fromAt,
        cpuMsPerSecond: ((sample.cpuMs - start.cpuMs) * 1000) / (sample.at - start.at),
        schedCpuMsPerSecond: ((sample.schedCpuMs - start.schedCpuMs) * 1000) / (sample.at - start.at),
      });
      start = sample;
    }
  }
  return windows;
}
