import SqliteDatabase from 'better-sqlite3';
import { migrateToLatest, openDatabase } from '@lunasentri/shared';
import { hashCredential } from '@lunasentri/api';

export interface HistoryFleetSpec {
  machines: number;
  days: number;
  /** outages per machine per day (each 1–30 minutes) */
  outagesPerDay: number;
  /** now, as the server sees it */
  now: Date;
}

export interface HistoryFleet {
  path: string;
  userId: number;
  token: string;
  slug: string;
  intervals: number;
  seedMs: number;
}

const DAY_MS = 86_400_000;
export const BENCH_TOKEN = 'lst_dashboard-bench-token-0000000000000000000000';
export const BENCH_SLUG = 'dashboard-bench-status-page-slug';

/** A deterministic PRNG (mulberry32), so every run seeds the same history. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * One user owning `machines` machines, registered `days + 10` days ago, each with `outagesPerDay`
 * outages a day and a weekly hour of maintenance over the last `days` days, 25+ events with
 * deliveries, a webhook, a Telegram chat and a published status page. The real migrations, then raw
 * inserts through prepared statements: seeding is no product path.
 */
export async function seedHistoryFleet(path: string, spec: HistoryFleetSpec): Promise<HistoryFleet> {
  const handle = openDatabase(path);
  await migrateToLatest(handle.db).finally(() => handle.close());
  const sqlite = new SqliteDatabase(handle.path);
  const started = performance.now();
  const nowMs = spec.now.getTime();
  const iso = (ms: number) => new Date(ms).toISOString();
  const created = iso(nowMs - (spec.days + 10) * DAY_MS);
  const next = random(42);
  let intervals = 0;
  try {
    sqlite.pragma('cache_size = -131072');
    sqlite.transaction(() => {
      sqlite.prepare('INSERT INTO users (id, email, is_admin, created_at) VALUES (1, ?, 0, ?)').run('owner@bench.example', created);
      sqlite.prepare('INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES (1, ?, ?, ?)').run(hashCredential(BENCH_TOKEN), 'bench', created);
      sqlite
        .prepare('INSERT INTO status_pages (user_id, slug, enabled, title, show_hostnames, created_at, updated_at) VALUES (1, ?, 1, ?, 1, ?, ?)')
        .run(BENCH_SLUG, 'Bench status', created, created);
      const machine = sqlite.prepare(
        `INSERT INTO machines (id, user_id, name, hostname, status, last_seen, status_changed_at, is_enabled, created_at, updated_at)
         VALUES (?, 1, ?, ?, ?, ?, ?, 1, ?, ?)`,
      );
      const interval = sqlite.prepare('INSERT INTO outage_history (machine_id, kind, started_at, ended_at) VALUES (?, ?, ?, ?)');
      for (let m = 1; m <= spec.machines; m++) {
        const offline = m % 50 === 0;
        machine.run(m, `bench-${m}`, `host-${m}.bench.internal`, offline ? 'offline' : 'online', iso(nowMs - (offline ? 600_000 : 5_000)), iso(nowMs - 600_000), created, created);
        for (let d = spec.days; d >= 1; d--) {
          const dayStart = Math.floor(nowMs / DAY_MS) * DAY_MS - d * DAY_MS;
          for (let k = 0; k < Math.floor(spec.outagesPerDay) + (next() < spec.outagesPerDay % 1 ? 1 : 0); k++) {
            const from = dayStart + Math.floor(next() * (DAY_MS - 1_800_000));
            interval.run(m, 'outage', iso(from), iso(from + 60_000 + Math.floor(next() * 1_740_000)));
            intervals++;
          }
          if (d % 7 === 0) {
            interval.run(m, 'maintenance', iso(dayStart + 2 * 3600_000), iso(dayStart + 3 * 3600_000));
            intervals++;
          }
        }
        if (offline) {
          interval.run(m, 'outage', iso(nowMs - 600_000), null);
          intervals++;
        }
      }
      sqlite.prepare("INSERT INTO webhooks (user_id, url, secret, is_active, created_at, updated_at) VALUES (1, 'https://hooks.bench.example/a', 'whsec_bench', 1, ?, ?)").run(created, created);
      const event = sqlite.prepare("INSERT INTO events (id, type, machine_id, user_id, occurred_at, payload, created_at) VALUES (?, 'machine.offline', ?, 1, ?, '{}', ?)");
      const delivery = sqlite.prepare(
        "INSERT INTO deliveries (event_id, machine_id, channel, target_id, status, attempts, next_attempt_at, created_at, updated_at) VALUES (?, ?, 'webhook', 1, 'delivered', 1, ?, ?, ?)",
      );
      for (let e = 1; e <= 200; e++) {
        const at = iso(nowMs - e * 60_000);
        event.run(`bench-event-${e}`, ((e * 7) % spec.machines) + 1, at, at);
        delivery.run(`bench-event-${e}`, ((e * 7) % spec.machines) + 1, at, at, at);
      }
    })();
    sqlite.pragma('wal_checkpoint(TRUNCATE)');
    sqlite.pragma('optimize');
  } finally {
    sqlite.close();
  }
  return { path: handle.path, userId: 1, token: BENCH_TOKEN, slug: BENCH_SLUG, intervals, seedMs: performance.now() - started };
}
