import type { Clock } from '@lunasentri/shared';

export interface CachedMachineKey {
  machineId: number;
  enabled: boolean;
}

interface Entry extends CachedMachineKey {
  expiresAt: number;
  keyHash: string;
  /** the key as the agent sends it: a hit then costs no hashing */
  key: string;
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
 * Key hash → machine, in process memory: the ingest hot path answers most requests without touching
 * the database. Only known, unrevoked keys are cached; unknown keys always go to the database, so
 * garbage keys cannot fill the cache.
 */
export class MachineKeyCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * The same entries by the key itself. Hashing a key costs more than the rest of a cache hit, so a
   * known key is found without it. It holds only keys that were valid when cached, for as long as
   * their entry lives: nothing an unknown key sends can grow it.
   */
  private readonly byKey = new Map<string, Entry>();
  private readonly hashesByMachine = new Map<number, Set<string>>();
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

  get(keyHash: string): CachedMachineKey | undefined {
    return this.counted(this.find(this.entries, keyHash, this.clock.now().getTime()));
  }

  /** The answer for a key as sent (not its hash); `nowMs` is the clock's now. */
  getByKey(key: string, nowMs: number): CachedMachineKey | undefined {
    return this.counted(this.find(this.byKey, key, nowMs));
  }

  /** Caches the answer for a key, under the key and under its hash. */
  set(keyHash: string, value: CachedMachineKey, key: string): void {
    const previous = this.entries.get(keyHash);
    if (previous) this.delete(previous);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.values().next().value;
      if (oldest) this.delete(oldest);
    }
    const entry: Entry = { machineId: value.machineId, enabled: value.enabled, expiresAt: this.clock.now().getTime() + this.ttlMs, keyHash, key };
    this.entries.set(keyHash, entry);
    this.byKey.set(key, entry);
    let hashes = this.hashesByMachine.get(value.machineId);
    if (!hashes) {
      hashes = new Set();
      this.hashesByMachine.set(value.machineId, hashes);
    }
    hashes.add(keyHash);
  }

  /** Forgets every key of a machine: call after rotate, disable, enable, delete or revoke. */
  invalidateMachine(machineId: number): void {
    const hashes = this.hashesByMachine.get(machineId);
    if (!hashes) return;
    for (const hash of hashes) {
      const entry = this.entries.get(hash);
      this.entries.delete(hash);
      if (entry) this.byKey.delete(entry.key);
    }
    this.hashesByMachine.delete(machineId);
  }

  /** Forgets everything. */
  clear(): void {
    this.entries.clear();
    this.byKey.clear();
    this.hashesByMachine.clear();
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

  private counted(entry: CachedMachineKey | undefined): CachedMachineKey | undefined {
    if (entry === undefined) this.lookups.miss++;
    else this.lookups.hit++;
    return entry;
  }

  private find(map: Map<string, Entry>, lookupKey: string, now: number): CachedMachineKey | undefined {
    this.checkRevision(now);
    // While a revision read is out, the cache may be stale: the database answers instead (a miss).
    if (this.checking) return undefined;
    const entry = map.get(lookupKey);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.delete(entry);
      return undefined;
    }
    return entry;
  }

  private applyRevision(revision: number): void {
    if (this.knownRevision !== undefined && revision !== this.knownRevision) this.clear();
    this.knownRevision = revision;
  }

  private delete(entry: Entry): void {
    this.entries.delete(entry.keyHash);
    this.byKey.delete(entry.key);
    const hashes = this.hashesByMachine.get(entry.machineId);
    if (!hashes) return;
    hashes.delete(entry.keyHash);
    if (hashes.size === 0) this.hashesByMachine.delete(entry.machineId);
  }
}
