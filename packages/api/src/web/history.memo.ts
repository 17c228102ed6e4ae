import { segmentsOf, type Segment } from '../uptime/uptime.models';
import { unpackHistory } from '../uptime/uptime.repository';
import type { Bar } from './machine-rows.view';

interface Entry {
  packed: string;
  segments: Segment[];
  barsKey?: string;
  bars?: Bar[];
}

/**
 * What a page of machines derives from their outage history, kept per machine between requests and
 * used again only while the history read for the request is exactly the one it came from (the same
 * packed text), so it can never be stale: the database is still read on every request, and any change
 * to a machine's history (a new outage, a recovery, a maintenance occurrence) is a new text. It saves
 * re-parsing and re-sorting the intervals, and the bars of the days before today, which do not change
 * once the day is over. Bounded: the least recently used machines are dropped past `limit`.
 */
export class HistoryMemo {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly limit = 2_000) {}

  private entry(machineId: number, packed: string): Entry {
    let entry = this.entries.get(machineId);
    if (entry === undefined || entry.packed !== packed) entry = { packed, segments: segmentsOf(packed === '' ? [] : unpackHistory(packed)) };
    // Re-inserted: the Map's order is the order of use, oldest first.
    this.entries.delete(machineId);
    this.entries.set(machineId, entry);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as number);
    return entry;
  }

  /** The segments of a machine's history (`''`: none). */
  segments(machineId: number, packed: string): readonly Segment[] {
    return this.entry(machineId, packed).segments;
  }

  /** The bars of the days before today, made by `make` unless the same history, start and days made them last time. */
  closedBars(machineId: number, packed: string, key: string, make: () => Bar[]): Bar[] {
    const entry = this.entry(machineId, packed);
    if (entry.barsKey !== key || entry.bars === undefined) {
      entry.bars = make();
      entry.barsKey = key;
    }
    return entry.bars;
  }
}
