import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { systemClock } from '@lunasentri/shared';
import { createMachine } from '../../packages/api/src/machines/machines.repository';
import { createUser } from '../../packages/api/src/users/users.repository';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { createTestDb, type TestDb } from '../support/db';
import { POSTGRES_URL } from '../support/engines';
import { insertWebhook } from '../support/fixtures';
import { freePort, until } from '../support/net';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver';

/*
 * Several processes on one PostgreSQL database, as on several hosts: two API replicas take the
 * reports, three daemons sweep and deliver at once. 200 machines go offline together and come back;
 * one daemon is SIGKILLed while it holds delivery claims. Every wait is for something observable,
 * with a generous deadline (the machine's two cores run seven processes here).
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MACHINES = 200;
const ROOT = resolve(__dirname, '..', '..');
const LEASE_MS = 30_000;

jest.setTimeout(300_000);

const eventOf = (h: ReceivedWebhook) => (h.json as { event: string }).event;
const machineOf = (h: ReceivedWebhook) => (h.json as { machine: { id: number } }).machine.id;

(POSTGRES_URL ? describe : describe.skip)('a fleet of API replicas and daemons on PostgreSQL', () => {
  const children = new Children();
  let db: TestDb;
  let receiver: WebhookReceiver;
  let slow = false;
  /** when each event id last reached the receiver (ms) */
  const arrivedAt = new Map<string, number>();
  let agent: NodeJS.Timeout | undefined;
  const keys: string[] = [];
  const bases: string[] = [];

  beforeAll(async () => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
    db = await createTestDb('postgres');
    // While `slow`, the receiver takes its time: daemons hold their claims for a while.
    receiver = await startWebhookReceiver({
      secret: SECRET,
      respond: async (request) => {
        if (slow) await new Promise((r) => setTimeout(r, 1_500));
        arrivedAt.set(request.headers['webhook-id'] as string, Date.now());
        return undefined;
      },
    });
  });

  afterAll(async () => {
    if (agent) clearInterval(agent);
    await children.killAll();
    await receiver?.close();
    await db?.dispose();
  });

  function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return cleanEnv({ DATABASE_URL: db.path, WEBHOOK_ALLOW_HTTP: 'true', WEBHOOK_ALLOW_PRIVATE: 'true', LOG_LEVEL: 'info', ...extra });
  }

  /** Every machine reports every second, spread over both API replicas. */
  function startAgents(): void {
    let round = 0;
    const beat = () => {
      round++;
      keys.forEach((key, i) => {
        void fetch(`${bases[(i + round) % bases.length]}/agent/heartbeat`, { method: 'POST', headers: { 'x-api-key': key } }).catch(() => undefined);
      });
    };
    beat();
    agent = setInterval(beat, 1_000);
  }
  function stopAgents(): void {
    clearInterval(agent);
    agent = undefined;
  }

  const countStatus = async (status: 'online' | 'offline') =>
    Number((await db.db.selectFrom('machines').select((eb) => eb.fn.countAll().as('n')).where('status', '=', status).executeTakeFirstOrThrow()).n);
  const uniqueIds = (type: string) => new Set(receiver.received.filter((h) => eventOf(h) === type && h.answeredStatus === 200).map((h) => h.headers['webhook-id']));

  test('every transition recorded once, every delivery arrives, a dead daemon’s claims are taken over by lease', async () => {
    const { user } = await createUser(db.db, systemClock, 'fleet@example.com', false);
    await insertWebhook(db.db, user.id, receiver.url, SECRET);
    for (let i = 0; i < MACHINES; i++) keys.push((await createMachine(db.db, systemClock, user.id, { name: `m-${i}` })).apiKey);

    const apis: Running[] = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      bases.push(`http://127.0.0.1:${port}`);
      apis.push(children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1'], env()));
    }
    for (const base of bases) await until(`${base}/health`, async () => ((await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined), 60_000);
    const daemons = [0, 1, 2].map(() => children.start(binary('lunasentri-heartbeat'), ['run', '--interval', '1s', '--threshold', '4s'], env()));
    for (const d of daemons) await d.waitForLine('Heartbeat monitor started', 60_000);

    startAgents();
    await until('every machine online', async () => ((await countStatus('online')) === MACHINES ? true : undefined), 60_000);
    expect(receiver.received).toHaveLength(0); // first reports are silent

    // The outage: every machine falls silent; the receiver is slow, so claims are held a while.
    slow = true;
    stopAgents();
    // Whichever daemon claimed first (one may take the whole burst in one batch) is the one to kill.
    const { victimId, victim } = await until(
      'a daemon holding claims',
      async () => {
        const row = await db.db
          .selectFrom('deliveries as d')
          .innerJoin('service_liveness as l', 'l.instance_id', 'd.claimed_by')
          .select(['l.instance_id', 'l.pid'])
          .where('d.status', '=', 'pending')
          .where('d.claimed_by', 'is not', null)
          .executeTakeFirst();
        const holder = row ? daemons.find((d) => d.child.pid === row.pid) : undefined;
        return row && holder ? { victimId: row.instance_id, victim: holder } : undefined;
      },
      90_000,
    );
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    await victim.exited();
    const held = await db.db.selectFrom('deliveries').select(['event_id', 'claimed_until']).where('claimed_by', '=', victimId).where('status', '=', 'pending').execute();
    slow = false;

    await receiver.waitFor(() => uniqueIds('machine.offline').size === MACHINES, 120_000);
    const heldIds = new Set(held.map((r) => r.event_id));
    const lastHeldArrival = Math.max(...[...heldIds].map((id) => arrivedAt.get(id) ?? Infinity));
    // Taken over by lease: within the lease after the kill (plus the survivors' wake-up), never sooner than it ends.
    expect(lastHeldArrival - killedAt).toBeLessThan(LEASE_MS + 15_000);
    expect(await countStatus('offline')).toBe(MACHINES);

    // The recovery.
    startAgents();
    await receiver.waitFor(() => uniqueIds('machine.online').size === MACHINES, 120_000);
    // The agents keep reporting until the checks are done: silent, the machines would go offline again
    // 4 s later, however slow this machine is.

    // Each machine: exactly one offline and one online event, recorded once whatever the daemon count.
    const events = await db.db.selectFrom('events').select(['machine_id', 'type']).execute();
    expect(events).toHaveLength(2 * MACHINES);
    const perMachine = new Map<number, string[]>();
    for (const e of events) perMachine.set(e.machine_id, [...(perMachine.get(e.machine_id) ?? []), e.type]);
    expect([...perMachine.values()].every((types) => types.sort().join() === 'machine.offline,machine.online')).toBe(true);

    // Duplicates only as resends of the same event (same webhook-id, same body); never an online first.
    const bodies = new Map<string, string>();
    for (const h of receiver.received) {
      const id = h.headers['webhook-id'] as string;
      expect(h.verified).toBe(true);
      expect(bodies.get(id) ?? h.rawBody).toBe(h.rawBody);
      bodies.set(id, h.rawBody);
    }
    expect(bodies.size).toBe(2 * MACHINES);
    const firstOnline = new Map<number, number>();
    const firstOffline = new Map<number, number>();
    for (const h of receiver.received) {
      const into = eventOf(h) === 'machine.online' ? firstOnline : firstOffline;
      if (!into.has(machineOf(h))) into.set(machineOf(h), h.index);
    }
    for (const [machine, at] of firstOnline) expect(at).toBeGreaterThan(firstOffline.get(machine)!);
    expect(held.length).toBeGreaterThan(0);

    stopAgents();
    const survivors = [...daemons.filter((d) => d !== victim), ...apis];
    for (const p of survivors) p.child.kill('SIGTERM');
    for (const p of survivors) expect((await p.exited(60_000)).code).toBe(0);
  });
});
