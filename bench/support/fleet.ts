import { statSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { migrateToLatest, openDatabase, type MachineStatus } from '@lunasentri/shared';

export interface FleetSpec {
  machines: number;
  /** owners: one user per this many machines (default 100) */
  machinesPerUser?: number;
  status: MachineStatus;
  /** every machine's last_seen (ISO-8601 UTC with ms) */
  lastSeen: string;
  /** defaults to `lastSeen` */
  statusChangedAt?: string;
}

export interface SeededFleet {
  path: string;
  users: number;
  machines: number;
  /** migrations excluded: only the inserts and their commit */
  seedMs: number;
  /** the SQLite file after a WAL checkpoint, bytes */
  fileBytes: number;
}

/**
 * Creates the database with the real migrations (indexes included, so the sweep sees what production
 * sees) and fills it in one transaction through two prepared statements. Raw SQL on purpose: a
 * million Kysely-built inserts would spend their time compiling queries, not writing rows.
 */
export async function seedFleet(path: string, spec: FleetSpec): Promise<SeededFleet> {
  const handle = openDatabase(path);
  await migrateToLatest(handle.db).finally(() => handle.close());
  // The bulk insert goes below the database port, straight to the driver: a benchmark's seeding is no product path.
  const sqlite = new SqliteDatabase(handle.path);
  try {
    // A larger page cache for this connection only: index pages stay in memory during the bulk insert.
    sqlite.pragma('cache_size = -262144');
    const perUser = spec.machinesPerUser ?? 100;
    const users = Math.ceil(spec.machines / perUser);
    const created = new Date(Date.parse(spec.lastSeen) - 86_400_000).toISOString();
    const insertUser = sqlite.prepare('INSERT INTO users (id, email, is_admin, created_at) VALUES (?, ?, 0, ?)');
    const insertMachine = sqlite.prepare(
      `INSERT INTO machines (id, user_id, name, hostname, description, status, last_seen, status_changed_at,
         is_enabled, enabled_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, ?, ?)`,
    );
    const started = performance.now();
    sqlite.transaction(() => {
      for (let u = 1; u <= users; u++) insertUser.run(u, `owner-${u}@bench.example`, created);
      for (let m = 1; m <= spec.machines; m++) {
        insertMachine.run(
          m,
          Math.ceil(m / perUser),
          `bench-${m}`,
          `host-${m}.bench.internal`,
          'benchmark fleet',
          spec.status,
          spec.lastSeen,
          spec.statusChangedAt ?? spec.lastSeen,
          created,
          created,
        );
      }
    })();
    const seedMs = performance.now() - started;
    // Hand the daemon a checkpointed file, so its first reads do not replay a huge WAL.
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    return { path: handle.path, users, machines: spec.machines, seedMs, fileBytes: statSync(handle.path).size };
  } finally {
    sqlite.close();
  }
}
