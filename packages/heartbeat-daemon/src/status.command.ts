import { formatDuration, yieldToEventLoop, type Clock, type Database, type DeliveryStatus } from '@lunasentri/shared';
import type { Kysely } from 'kysely';

export interface StatusOptions {
  json: boolean;
  /** how many of the latest pending / failed / dead deliveries to list (counts are always complete) */
  deliveryLimit?: number;
}

type Write = (text: string) => void;


function agoText(at: string | null, now: Date): string {
  if (at === null) return 'never';
  const ms = now.getTime() - Date.parse(at);
  return ms >= 0 ? `${at} (${formatDuration(Math.round(ms / 1000) * 1000)} ago)` : at;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((row) => row[col].length)));
  return rows.map((row) => row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]))).join('  ').trimEnd()).join('\n');
}

function machinesQuery(db: Kysely<Database>) {
  return db
    .selectFrom('machines')
    .select(['id', 'user_id', 'name', 'hostname', 'status', 'last_seen', 'status_changed_at', 'is_enabled'])
    .orderBy('id');
}

/**
 * `lunasentri-heartbeat status`: every machine with its status and last report, then the deliveries
 * not delivered (pending, failed, dead) with attempts and last error. `--json` prints the machines as a
 * JSON array. Machines are streamed, so a large fleet costs no memory.
 */
export async function printStatus(db: Kysely<Database>, clock: Clock, options: StatusOptions, write: Write): Promise<void> {
  const now = clock.now();
  if (options.json) {
    let first = true;
    let count = 0;
    write('[');
    for await (const m of machinesQuery(db).stream()) {
      const machine = {
        id: m.id,
        user_id: m.user_id,
        name: m.name,
        hostname: m.hostname,
        status: m.status,
        last_seen: m.last_seen,
        status_changed_at: m.status_changed_at,
        enabled: m.is_enabled === 1,
      };
      write(`${first ? '\n  ' : ',\n  '}${JSON.stringify(machine)}`);
      first = false;
      // Lets signals in: better-sqlite3 reads and pipe writes are synchronous, so a listing that never
      // yielded would hold the process (and leave SIGINT unhandled) until its last machine.
      if (++count % 1000 === 0) await yieldToEventLoop();
    }
    write(first ? ']\n' : '\n]\n');
    return;
  }

  const counts = await db.selectFrom('machines').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
  const byStatus = Object.fromEntries(counts.map((c) => [c.status, Number(c.n)]));
  const total = counts.reduce((sum, c) => sum + Number(c.n), 0);
  write(`Machines: ${total} (${byStatus.online ?? 0} online, ${byStatus.offline ?? 0} offline, ${byStatus.pending ?? 0} pending)\n`);
  if (total > 0) {
    const header = ['ID', 'NAME', 'STATUS', 'ENABLED', 'LAST SEEN'];
    let chunk: string[][] = [];
    // Column widths are per chunk of rows: wide enough to read, without holding the fleet in memory.
    const flush = () => {
      if (chunk.length > 0) write(`${table([header, ...chunk])}\n`);
      chunk = [];
    };
    for await (const m of machinesQuery(db).stream()) {
      chunk.push([String(m.id), m.name, m.status, m.is_enabled === 1 ? 'yes' : 'no', agoText(m.last_seen, now)]);
      if (chunk.length >= 1000) {
        flush();
        await yieldToEventLoop();
      }
    }
    flush();
  }

  const limit = options.deliveryLimit ?? 50;
  const statuses: DeliveryStatus[] = ['pending', 'failed', 'dead'];
  const deliveryCounts = await db
    .selectFrom('deliveries')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .where('status', 'in', statuses)
    .groupBy('status')
    .execute();
  const dc = Object.fromEntries(deliveryCounts.map((c) => [c.status, Number(c.n)]));
  write(`\nDeliveries not delivered: ${dc.pending ?? 0} pending, ${dc.failed ?? 0} failed, ${dc.dead ?? 0} dead\n`);
  const rows = await db
    .selectFrom('deliveries as d')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select(['d.id', 'e.type', 'd.event_id', 'd.machine_id', 'd.channel', 'd.target_id', 'd.status', 'd.attempts', 'd.next_attempt_at', 'd.last_error'])
    .where('d.status', 'in', statuses)
    .orderBy('d.id', 'desc')
    .limit(limit)
    .execute();
  if (rows.length > 0) {
    const body = rows
      .reverse()
      .map((d) => [
        String(d.id),
        d.type,
        d.event_id,
        String(d.machine_id),
        `${d.channel} ${d.target_id}`,
        d.status,
        String(d.attempts),
        d.status === 'pending' ? d.next_attempt_at : '-',
        d.last_error ?? '-',
      ]);
    write(`${table([['ID', 'EVENT', 'EVENT ID', 'MACHINE', 'CHANNEL', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'], ...body])}\n`);
    const shown = (dc.pending ?? 0) + (dc.failed ?? 0) + (dc.dead ?? 0);
    if (shown > rows.length) write(`(latest ${rows.length} of ${shown} shown)\n`);
  }
}
