import { createLogger } from '@lunasentri/shared';
import { TestClock } from '../../../test/support/test-clock';
import { captureStream } from '../../../test/support/capture';
import type { IngestBatch, IngestStore } from '@lunasentri/shared';
import { IngestWriter } from '../src/ingest/ingest.writer';

/** Stands in for the database only to make writes fail on demand; the SQL itself is tested against SQLite. */
function flakyStore() {
  const written: IngestBatch[] = [];
  let failuresLeft = 0;
  const store: IngestStore = {
    async write(batch) {
      if (failuresLeft > 0) {
        failuresLeft--;
        throw new Error('SQLITE_BUSY: database is locked');
      }
      written.push(batch);
    },
  };
  return { store, written, failNext: (n: number) => (failuresLeft = n) };
}

describe('ingest write-behind', () => {
  const clock = new TestClock();
  const logs = captureStream();
  const logger = createLogger({ stream: logs.stream, env: {} });

  afterAll(async () => {
    await logger.close();
  });

  it('keeps reports through failed writes, logs once per failure streak, and writes them once the database is back', async () => {
    const { store, written, failNext } = flakyStore();
    const writer = new IngestWriter(store, clock, logger, { flushIntervalMs: 60_000, minWriteIntervalMs: 0 });
    const at = clock.now().getTime();
    writer.record({ machineId: 1, receivedAtMs: at, metrics: { cpu_pct: 1, mem_used_pct: 2, disk_used_pct: 3, net_rx_bytes: 0, net_tx_bytes: 0, uptime_s: 5 } });
    failNext(2);
    await writer.flush();
    writer.record({ machineId: 1, receivedAtMs: at + 10 });
    await writer.flush();
    expect(written).toHaveLength(0);
    expect(writer.pendingMachines).toBe(1);
    await writer.close();
    expect(written).toHaveLength(1);
    expect([...written[0].lastSeen]).toEqual([[1, new Date(at + 10).toISOString()]]);
    expect(written[0].samples).toHaveLength(1);
    // winston hands lines to the stream asynchronously
    await new Promise((resolve) => setImmediate(resolve));
    const lines = logs.lines();
    expect(lines.filter((l) => l.includes('Could not write ingest reports'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('Ingest reports are written again'))).toHaveLength(1);
  });

  it('writes everything on close, even what the write interval still holds back', async () => {
    const { store, written } = flakyStore();
    const writer = new IngestWriter(store, clock, logger, { flushIntervalMs: 60_000, minWriteIntervalMs: 60_000 });
    const at = clock.now().getTime();
    writer.record({ machineId: 7, receivedAtMs: at });
    await writer.flush();
    writer.record({ machineId: 7, receivedAtMs: at + 500 });
    await writer.flush();
    expect(written.map((b) => [...b.lastSeen])).toEqual([[[7, new Date(at).toISOString()]]]);
    await writer.close();
    expect(written.map((b) => [...b.lastSeen])).toEqual([[[7, new Date(at).toISOString()]], [[7, new Date(at + 500).toISOString()]]]);
  });

  it('writes a report held back by the write interval once its interval has passed, without another report', async () => {
    const { store, written } = flakyStore();
    // Timers driven by the test: each scheduled flush is fired by hand after moving the clock.
    const scheduled: Array<{ fire: () => void; ms: number }> = [];
    const timers = {
      setTimeout: (fire: () => void, ms: number) => {
        const entry = { fire, ms };
        scheduled.push(entry);
        return entry;
      },
      clearTimeout: (handle: unknown) => {
        scheduled.splice(scheduled.indexOf(handle as (typeof scheduled)[number]), 1);
      },
    };
    const writer = new IngestWriter(store, clock, logger, { flushIntervalMs: 25, minWriteIntervalMs: 1_000, timers });
    const at = clock.now().getTime();
    writer.record({ machineId: 3, receivedAtMs: at });
    await writer.flush();
    expect(written).toHaveLength(1);
    clock.advance(200);
    writer.record({ machineId: 3, receivedAtMs: at + 200 });
    // The flush the report asked for finds it held back, and books a wake-up for when it is due.
    const first = scheduled.shift()!;
    first.fire();
    await writer.flush();
    expect(written).toHaveLength(1);
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0].ms).toBe(800);
    clock.advance(800);
    scheduled.shift()!.fire();
    await writer.flush();
    expect(written.map((b) => [...b.lastSeen])).toEqual([[[3, new Date(at).toISOString()]], [[3, new Date(at + 200).toISOString()]]]);
    expect(writer.pendingMachines).toBe(0);
    await writer.close();
  });
  /** Timers fired by hand: each entry is a booked flush and its delay. */
  function manualTimers() {
    const scheduled: Array<{ fire: () => void; ms: number }> = [];
    return {
      scheduled,
      timers: {
        setTimeout: (fire: () => void, ms: number) => {
          const entry = { fire, ms };
          scheduled.push(entry);
          return entry;
        },
        clearTimeout: (handle: unknown) => {
          const i = scheduled.indexOf(handle as (typeof scheduled)[number]);
          if (i >= 0) scheduled.splice(i, 1);
        },
      },
    };
  }

  it('gathers routine reports for the steady interval, and writes news (a first report, a return after a silence) within the flush interval', async () => {
    const { store, written } = flakyStore();
    const { scheduled, timers } = manualTimers();
    const writer = new IngestWriter(store, clock, logger, { flushIntervalMs: 25, minWriteIntervalMs: 0, steadyFlushIntervalMs: 1_000, timers });
    const report = (machineId: number) => writer.record({ machineId, receivedAtMs: clock.now().getTime() });
    const fireNext = async () => {
      scheduled.shift()!.fire();
      await writer.flush();
    };

    // A machine's first two reports are news: its pace is not known yet.
    report(1);
    expect(scheduled.map((t) => t.ms)).toEqual([25]);
    await fireNext();
    clock.advance(30_000);
    report(1);
    expect(scheduled.map((t) => t.ms)).toEqual([25]);
    await fireNext();
    // At its pace (30 s, with some jitter): routine, gathered for a second.
    clock.advance(30_400);
    report(1);
    expect(scheduled.map((t) => t.ms)).toEqual([1_000]);
    // Another machine's first report is news: it brings the one flush forward, for both.
    clock.advance(100);
    report(2);
    expect(scheduled.map((t) => t.ms)).toEqual([25]);
    await fireNext();
    expect(written.map((b) => [...b.lastSeen.keys()])).toEqual([[1], [1], [1, 2]]);
    // A routine report waits for its second unless something flushes sooner (the liveness beat).
    clock.advance(30_000);
    report(1);
    expect(scheduled.map((t) => t.ms)).toEqual([1_000]);
    await writer.writeHeld();
    expect(scheduled).toHaveLength(0);
    expect(written).toHaveLength(4);
    // Back after a silence longer than one and a half of its gaps (an outage): news again.
    clock.advance(95_000);
    report(1);
    expect(scheduled.map((t) => t.ms)).toEqual([25]);
    await writer.close();
    expect(written).toHaveLength(5);
  });

  it('without a steady interval writes every report within the flush interval', async () => {
    const { store } = flakyStore();
    const { scheduled, timers } = manualTimers();
    const writer = new IngestWriter(store, clock, logger, { flushIntervalMs: 25, minWriteIntervalMs: 0, timers });
    for (let i = 0; i < 3; i++) {
      writer.record({ machineId: 9, receivedAtMs: clock.now().getTime() });
      expect(scheduled.map((t) => t.ms)).toEqual([25]);
      scheduled.shift()!.fire();
      await writer.flush();
      clock.advance(30_000);
    }
    await writer.close();
  });
});
