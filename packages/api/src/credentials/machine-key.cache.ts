import type { Clock } from '@lunasentri/shared';

export interface CachedMachineKey {
  machineId: number;
  enabled: boolean;
}

interface Entry extends CachedMachineKey {
  expiresAt: number;
}

export interface MachineKeyCacheOptions {
  /**
   * How long an answer is trusted at most. Changes made in this process invalidate at once; changes
   * made by another process (a second API, the CLI) are caught by the revision check below.
   */
  ttlMs: number;
  /**
   * The database's credential revision (bumped on every key or enabled-state change, by any process).
   * Read at most once per `revisionCheckMs`; when it moved, the whole cache is dropped.
   */
  revision?: () => number | Promise<number>;
  /** default 1 s: bounds how long a key revoked or a machine disabled elsewhere still works */
  revisionCheckMs?: number;
  /** Oldest entries are dropped beyond this, so memory stays bounded whatever the fleet size. */
  maxEntries?: number;
}

/**
 * Machine key → machine, in process memory: the ingest hot path answers most requests without touching
 * the database, and without hashing the key (hashing costs more than the rest of a cache hit). Only
 * known, unrevoked keys are cached, for as long as their entry lives; unknown keys always go to the
 * database, so garbage keys cannot fill the cache.
 */
export class MachineKeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly keysByMachine = new Map<number, Set<string>>();
  /** lookups answered from memory (`hit`) or not (`miss`), for the metrics; two increments, no allocation */
  readonly lookups = { hit: 0, miss: 0 };
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly revisionCheckMs: number;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private knownRevision: number | undefined;
  /** a revision read still on its way (a networked database): until it lands, every lookup misses */
  private checking = false;

  constructor(
    private readonly clock: Clock,
    private readonly options: MachineKeyCacheOptions,
  ) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? 200_000;
    this.revisionCheckMs = options.revisionCheckMs ?? 1_000;
  }

  /** The answer for a key as the agent sends it; `nowMs` is the clock's now. */
  get(key: string, nowMs: number): CachedMachineKey | undefined {
    const entry = this.find(key, nowMs);
    if (entry === undefined) this.lookups.miss++;
    else this.lookups.hit++;
    return entry;
  }

  set(key: string, value: CachedMachineKey): void {
    const previous = this.entries.get(key);
    if (previous) this.delete(key, previous.machineId);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.entries().next().value;
      if (oldest) this.delete(oldest[0], oldest[1].machineId);
    }
    this.entries.set(key, { ...value, expiresAt: this.clock.now().getTime() + this.ttlMs });
    let keys = this.keysByMachine.get(value.machineId);
    if (!keys) {
      keys = new Set();
      this.keysByMachine.set(value.machineId, keys);
    }
    keys.add(key);
  }

  /** Forgets every key of a machine: call after rotate, disable, enable, delete or revoke. */
  invalidateMachine(machineId: number): void {
    const keys = this.keysByMachine.get(machineId);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.keysByMachine.delete(machineId);
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
    this.keysByMachine.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether a revision read is on its way (a networked database); lookups miss meanwhile. */
  get checkingRevision(): boolean {
    return this.checking;
  }

  /** One primary-key read a second at most; a clock going backwards also triggers a check. */
  private checkRevision(now: number): void {
    if (!this.options.revision) return;
    if (now - this.checkedAt < this.revisionCheckMs && now >= this.checkedAt) return;
    this.checkedAt = now;
    const revision = this.options.revision();
    if (typeof revision === 'number') return this.applyRevision(revision);
    this.checking = true;
    revision.then(
      (value) => {
        this.checking = false;
        this.applyRevision(value);
      },
      () => {
        // Unknown: drop everything rather than trust entries that may have been revoked.
        this.checking = false;
        this.clear();
      },
    );
  }

  private find(key: string, now: number): CachedMachineKey | undefined {
    this.checkRevision(now);
    // While a revision read is out, the cache may be stale: the database answers instead (a miss).
    if (this.checking) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.delete(key, entry.machineId);
      return undefined;
    }
    return entry;
  }

  private applyRevision(revision: number): void {
    if (this.knownRevision !== undefined && revision !== this.knownRevision) this.clear();
    this.knownRevision = revision;
  }

  private delete(key: string, machineId: number): void {
    this.entries.delete(key);
    const keys = this.keysByMachine.get(machineId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.keysByMachine.delete(machineId);
  }
}
