import { formatDuration, yieldToEventLoop, type Clock, type Database, type DeliveryStatus } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { wholeSecondsBetween } from './sweep/heartbeat.models';

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

/** `--json`: the machines as one JSON array, streamed. */
async function printMachinesJson(db: Kysely<Database>, write: Write): Promise<void> {
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
}

async function printMachines(db: Kysely<Database>, now: Date, write: Write): Promise<void> {
  const counts = await db.selectFrom('machines').select(['status', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('status').execute();
  const byStatus = Object.fromEntries(counts.map((c) => [c.status, Number(c.n)]));
  const total = counts.reduce((sum, c) => sum + Number(c.n), 0);
  write(`Machines: ${total} (${byStatus.online ?? 0} online, ${byStatus.offline ?? 0} offline, ${byStatus.pending ?? 0} pending)\n`);
  if (total === 0) return;
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

async function printDeliveries(db: Kysely<Database>, limit: number, write: Write): Promise<void> {
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
    .leftJoin('telegram_digests as g', 'g.id', 'd.digest_id')
    .select(['d.id', 'e.type', 'd.event_id', 'd.machine_id', 'd.channel', 'd.target_id', 'd.status', 'd.attempts', 'd.next_attempt_at', 'd.last_error', 'd.digest_id', 'g.deliveries as digest_size'])
    .where('d.status', 'in', statuses)
    .orderBy('d.id', 'desc')
    .limit(limit)
    .execute();
  if (rows.length === 0) return;
  const body = rows
    .reverse()
    .map((d) => [
      String(d.id),
      d.type,
      d.event_id,
      String(d.machine_id),
      `${d.channel} ${d.target_id}`,
      // Rows with the same message went (or go) out as one Telegram message: its id and how many it carries.
      d.digest_id === null ? '-' : `#${d.digest_id} (${d.digest_size ?? '?'})`,
      d.status,
      String(d.attempts),
      d.status === 'pending' ? d.next_attempt_at : '-',
      d.last_error ?? '-',
    ]);
  write(`${table([['ID', 'EVENT', 'EVENT ID', 'MACHINE', 'CHANNEL', 'MESSAGE', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'], ...body])}\n`);
  const shown = (dc.pending ?? 0) + (dc.failed ?? 0) + (dc.dead ?? 0);
  if (shown > rows.length) write(`(latest ${rows.length} of ${shown} shown)\n`);
}

interface FailingChannel {
  label: string;
  /** the first failure after the last success (before migration 017 recorded it: the last failure) */
  since: string;
  failures: string;
  lastError: string;
}

/**
 * Active channels whose latest outcome is a failure (an error after the last success, or no success
 * ever), the longest failing first, and how many there are.
 */
async function failingChannels(db: Kysely<Database>, limit: number): Promise<{ rows: FailingChannel[]; total: number }> {
  const failing = <T extends 'webhooks' | 'telegram_recipients'>(table: T) =>
    db
      .selectFrom(table as 'webhooks')
      .where('is_active', '=', 1)
      .where('last_error_at', 'is not', null)
      .where((eb) => eb.or([eb('last_success_at', 'is', null), eb('last_error_at', '>', eb.ref('last_success_at'))]));
  const hooks = await failing('webhooks')
    .select(['id', 'failing_since', 'last_error_at', 'last_error', 'failure_count'])
    .orderBy('id')
    .limit(limit)
    .execute();
  const chats = await failing('telegram_recipients')
    .select(['id', 'failing_since', 'last_error_at', 'last_error'])
    .orderBy('id')
    .limit(limit)
    .execute();
  const count = async (table: 'webhooks' | 'telegram_recipients') =>
    Number((await failing(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const rows: FailingChannel[] = [
    ...hooks.map((h) => ({ label: `webhook ${h.id}`, since: h.failing_since ?? h.last_error_at!, failures: String(h.failure_count), lastError: h.last_error ?? '-' })),
    ...chats.map((c) => ({ label: `telegram ${c.id}`, since: c.failing_since ?? c.last_error_at!, failures: '-', lastError: c.last_error ?? '-' })),
  ];
  rows.sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
  return { rows: rows.slice(0, limit), total: (await count('webhooks')) + (await count('telegram_recipients')) };
}

/** One line per failing channel: how long it has been failing, since when, failures in a row (webhooks count them), the last error. */
async function printFailingChannels(db: Kysely<Database>, now: Date, limit: number, write: Write): Promise<void> {
  const { rows, total } = await failingChannels(db, limit);
  write(`\nChannels failing: ${total}\n`);
  if (rows.length === 0) return;
  const body = rows.map((c) => [c.label, formatDuration(wholeSecondsBetween(c.since, now)), c.since, c.failures, c.lastError]);
  write(`${table([['CHANNEL', 'FAILING FOR', 'SINCE', 'FAILURES', 'LAST ERROR'], ...body])}\n`);
  if (total > rows.length) write(`(${rows.length} of ${total} shown)\n`);
}

/**
 * `lunasentri-heartbeat status`: every machine with its status and last report, the deliveries not
 * delivered (pending, failed, dead) with attempts and last error, and the channels failing now with
 * how long they have been failing. `--json` prints the machines as a JSON array. Machines are
 * streamed, so a large fleet costs no memory.
 */
export async function printStatus(db: Kysely<Database>, clock: Clock, options: StatusOptions, write: Write): Promise<void> {
  const now = clock.now();
  if (options.json) return printMachinesJson(db, write);
  await printMachines(db, now, write);
  const limit = options.deliveryLimit ?? 50;
  await printDeliveries(db, limit, write);
  await printFailingChannels(db, now, limit, write);
}
