import { cpuWindows, processName, ProcSampler, type CpuWindow } from './proc-stats';
import type { Service } from './service';
import { max, median, sleep } from './stats';

export interface MeasureOptions {
  /** the line that says the process is up and working */
  ready: RegExp;
  readyTimeoutMs?: number;
  /** skipped after `ready`: JIT warm-up and first ticks are not the steady state */
  warmupMs: number;
  measureMs: number;
  /** CPU windows; the reported rate is their median */
  windowMs: number;
  /** how often /proc is read (RSS peaks between readings are still caught by VmHWM) */
  sampleEveryMs?: number;
}

export interface Measurement {
  /** spawn → ready line */
  startupMs: number;
  windows: CpuWindow[];
  /** median over windows, utime + stime */
  cpuMsPerSecond: number;
  /** median over windows, schedstat */
  schedCpuMsPerSecond: number;
  /** VmHWM at the end: the peak since the process started, startup included */
  peakRssMb: number;
  /** median VmRSS over the measured span */
  steadyRssMb: number;
  /** Date.now() bounds of the measured span */
  from: number;
  to: number;
}

/** Watches a running service from /proc while it works; the caller stops it afterwards. */
export async function measureService(service: Service, options: MeasureOptions): Promise<Measurement> {
  const sampler = new ProcSampler(service.pid, options.sampleEveryMs ?? 250).start();
  try {
    const ready = await service.waitForLine(options.ready, options.readyTimeoutMs ?? 120_000);
    const name = processName(service.pid);
    if (name !== 'node') throw new Error(`${service.name}: pid ${service.pid} is "${name}", not node: the measurement would miss the service`);
    await sleep(options.warmupMs);
    const from = Date.now();
    sampler.take();
    await sleep(options.measureMs);
    const samples = sampler.stop();
    const to = Date.now();
    const span = samples.filter((s) => s.at >= from);
    const windows = cpuWindows(samples, from, options.windowMs);
    if (windows.length === 0) throw new Error(`${service.name}: no complete ${options.windowMs} ms window (did it exit?)\n${service.tail()}`);
    return {
      startupMs: ready.at - service.spawnedAt,
      windows,
      cpuMsPerSecond: median(windows.map((w) => w.cpuMsPerSecond)),
      schedCpuMsPerSecond: median(windows.map((w) => w.schedCpuMsPerSecond)),
      peakRssMb: max(samples.map((s) => s.hwmKb)) / 1024,
      steadyRssMb: median(span.map((s) => s.rssKb)) / 1024,
      from,
      to,
    };
  } finally {
    sampler.stop();
  }
}
