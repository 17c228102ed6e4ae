import type { Kysely } from 'kysely';
import type { Database } from './schema';

/*
 * The database port: what the processes need from a database beyond the Kysely queries they build
 * themselves. Kysely covers the portable SQL; the few places where one engine's driver matters (the
 * ingest flush, the key lookup on the hot path, noticing other processes' writes, telling a unique
 * violation) are these interfaces, implemented once per engine under this folder. Nothing outside
 * `packages/shared/src/db` knows which engine it talks to.
 */

/** A value now, or later: SQLite answers synchronously, a networked database cannot. */
export type Awaitable<T> = T | Promise<T>;

export type DatabaseEngine = 'sqlite' | 'postgres';

export interface OpenOptions {
  readonly?: boolean;
  /** How long a writer waits for another connection's write lock (default {@link BUSY_TIMEOUT_MS}). */
  busyTimeoutMs?: number;
  /**
   * Whether a missing database may be created (default true). Commands that only read or add to an
   * existing database pass false, so a wrong path is an error instead of a new empty database.
   */
  create?: boolean;
}

/** Default busy timeout: a writer waits this long for another connection's write to finish. */
export const BUSY_TIMEOUT_MS = 10_000;

export interface DatabaseHandle {
  readonly engine: DatabaseEngine;
  /** Kysely over the connection. */
  readonly db: Kysely<Database>;
  /** Where the database is, for log lines and errors: the absolute file path, `:memory:`, or a PostgreSQL URL without its password. */
  readonly path: string;
  /**
   * Another connection to the same database with other options (the API's background writers use a
   * short busy timeout). An in-memory database has only one connection: it is shared, and closing the
   * returned handle leaves it open.
   */
  reopen(options?: OpenOptions): DatabaseHandle;
  /** Notices commits of other connections (see {@link ChangeFeed}). */
  changeFeed(): ChangeFeed;
  /** The ingest flush on this connection (see {@link IngestStore}). */
  ingestStore(): IngestStore;
  /** Machine key lookups on this connection (see {@link MachineKeyLookup}). */
  machineKeyLookup(): MachineKeyLookup;
  close(): Promise<void>;
}

/**
 * Tells whether another connection (another process: the API writing reports, another daemon) has
 * committed since the last look. Cheap enough to ask every few hundred milliseconds; the database
 * stays the source of truth, this only says when to look again.
 */
export interface ChangeFeed {
  /** True when another connection committed since the previous call (the first call only primes it). */
  poll(): boolean;
  /**
   * Calls `listener` soon after another connection may have committed: a file-system event on the
   * SQLite write-ahead log, a PostgreSQL notification. Only a hint to poll now rather than at the next
   * poll: it may fire for this connection's own writes, and it may never fire (a file system without
   * change events); polling stays the source of truth. One listener; a second call replaces it.
   */
  onHint(listener: () => void): void;
  close(): void;
}

/** One metrics sample as stored in `machine_metrics`. */
export interface MetricsSample {
  cpu_pct: number | null;
  mem_used_pct: number | null;
  disk_used_pct: number | null;
  net_rx_bytes: number;
  net_tx_bytes: number;
  uptime_s: number | null;
}

/** The agent's system facts as `machines` columns; only the ones the agent sent. */
export interface SystemInfoColumns {
  reported_hostname?: string;
  platform?: string;
  platform_version?: string;
  kernel_version?: string;
  cpu_cores?: number;
  memory_total_mb?: number;
  disk_total_gb?: number;
  last_boot_time?: string;
}

export interface PendingSample extends MetricsSample {
  machine_id: number;
  recorded_at: string;
}

/** What one ingest flush writes: the latest `last_seen` per machine, system facts, every metrics sample. */
export interface IngestBatch {
  lastSeen: Map<number, string>;
  systemInfo: Map<number, SystemInfoColumns>;
  samples: PendingSample[];
}

/**
 * The ingest flush. `last_seen` never moves back (another API process may have written a later report
 * first); samples of a machine deleted since its report was accepted are skipped, not a failure.
 */
export interface IngestStore {
  /** Writes the whole batch in one transaction, or nothing. */
  write(batch: IngestBatch): Promise<void>;
}

export interface MachineKeyOwner {
  machineId: number;
  isEnabled: number;
}

/** The key cache's database side: a miss, and the change counter it polls. */
export interface MachineKeyLookup {
  /** The machine a live (unrevoked) key belongs to. */
  find(keyHash: string): Awaitable<MachineKeyOwner | undefined>;
  /** `credential_revision.revision`: changes whenever any process changes a key or a machine's enabled state. */
  revision(): Awaitable<number>;
}
