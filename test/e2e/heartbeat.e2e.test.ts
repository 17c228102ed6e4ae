import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { emptyDatabase } from '../support/db';
import { describeEachEngine } from '../support/engines';
import { freePort, until as untilWithin } from '../support/net';
import { startFakeTelegram, type FakeTelegram } from '../support/fake-telegram';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver';

/*
 * The real built binaries (`tsc -b` first) as child processes on one fresh database (a temp SQLite
 * file, or a new PostgreSQL database): the API takes
 * heartbeats over HTTP, the daemon detects and delivers to a verifying webhook receiver and a fake
 * Telegram Bot API. Every wait is for something observable, with a generous deadline.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const BOT_TOKEN = '987654:e2e-test-token-for-the-fake-bot-api';
const CHAT_ID = 4242;
const DEADLINE = 30_000;
const ROOT = resolve(__dirname, '..', '..');

jest.setTimeout(180_000);

/** Waits for `probe` with the test's generous deadline. */
const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, deadlineMs = DEADLINE) => untilWithin(what, probe, deadlineMs);

const eventOf = (h: ReceivedWebhook) => (h.json as { event?: string } | undefined)?.event;

describeEachEngine('API and daemon end to end', (engine) => {
  const children = new Children();
  let fresh: { location: string; drop: () => Promise<void> } | undefined;
  let receiver: WebhookReceiver;
  let telegram: FakeTelegram;
  let failing = false;
  let env: NodeJS.ProcessEnv;
  let base: string;
  let token: string;
  let apiKey: string;
  let machineId: number;
  let api: Running;
  let daemon: Running;
  let db: DatabaseHandle;
  let agent: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
    fresh = await emptyDatabase(engine);
    receiver = await startWebhookReceiver({ secret: SECRET, respond: () => (failing ? { status: 503, body: 'down for maintenance' } : undefined) });
    telegram = await startFakeTelegram({ token: BOT_TOKEN });
    env = cleanEnv({
      ...(engine === 'sqlite' ? { DB_PATH: fresh.location } : { DATABASE_URL: fresh.location }),
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      TELEGRAM_BOT_TOKEN: BOT_TOKEN,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      MACHINE_HEARTBEAT_CHECK_INTERVAL: '1s',
      MACHINE_OFFLINE_THRESHOLD: '2s',
    });
  });

  afterAll(async () => {
    if (agent) clearInterval(agent);
    await children.killAll();
    await db?.close();
    await receiver?.close();
    await telegram?.close();
    await fresh?.drop();
  });

  async function call(method: string, path: string, body?: unknown, auth = token): Promise<{ status: number; json: any }> {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
  }

  async function machineStatus(): Promise<string> {
    const { json } = await call('GET', `/machines/${machineId}`);
    return (json.machine ?? json).status as string;
  }

  function startAgent(): void {
    const beat = () => void call('POST', '/agent/heartbeat', undefined, apiKey).catch(() => undefined);
    beat();
    agent = setInterval(beat, 250);
  }
  function stopAgent(): void {
    clearInterval(agent);
    agent = undefined;
  }

  function startDaemon(): Running {
    return children.start(binary('lunasentri-heartbeat'), ['run'], env);
  }

  test('offline and online arrive on both channels; a delivery failing when the daemon is SIGKILLed is delivered after the restart', async () => {
    // Admin CLI: the database, a user with a token and a machine with its agent key.
    expect((await children.run(binary('lunasentri-api'), ['migrate'], env)).code).toBe(0);
    const user = await children.run(binary('lunasentri-api'), ['user', 'create', '--email', 'ops@example.com', '--json'], env);
    expect(user.code).toBe(0);
    token = (JSON.parse(user.stdout) as { token: string }).token;
    const created = await children.run(
      binary('lunasentri-api'),
      ['machine', 'create', '--email', 'ops@example.com', '--name', 'production-server', '--hostname', 'prod-01.example.com', '--json'],
      env,
    );
    expect(created.code).toBe(0);
    const machine = JSON.parse(created.stdout) as { machine: { id: number }; api_key: string };
    machineId = machine.machine.id;
    apiKey = machine.api_key;

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1'], env);
    await until('the API to answer /health', async () => ((await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined));

    // Channels over the HTTP API.
    expect((await call('POST', '/notifications/webhooks', { url: receiver.url, secret: SECRET })).status).toBe(201);
    expect((await call('POST', '/notifications/telegram', { chat_id: CHAT_ID })).status).toBe(201);

    daemon = startDaemon();
    await daemon.waitForLine('Heartbeat monitor started (interval: 1s, threshold: 2s)');

    // First contact: online, silently.
    startAgent();
    await until('the machine to be online', async () => ((await machineStatus()) === 'online' ? true : undefined));
    expect(receiver.received).toHaveLength(0);
    expect(telegram.messages).toHaveLength(0);

    // The agent stops: offline on both channels.
    stopAgent();
    await receiver.waitFor((all) => all.some((h) => eventOf(h) === 'machine.offline'), DEADLINE);
    await telegram.waitFor((all) => all.some((m) => m.text.includes('Machine Offline')), DEADLINE);
    await daemon.waitForLine(/Machine \d+ \(production-server\) went offline \(last seen: \d+s ago\)/);
    expect(await machineStatus()).toBe('offline');
    const offline = receiver.received.find((h) => eventOf(h) === 'machine.offline')!;
    expect(offline.verifyErrors).toEqual([]);
    expect(offline.json).toMatchObject({ event: 'machine.offline', machine: { id: machineId, name: 'production-server', hostname: 'prod-01.example.com', status: 'offline' } });
    expect(telegram.messages[0]).toMatchObject({ chat_id: CHAT_ID, parse_mode: 'HTML' });

    // It comes back: online on both channels, with the downtime.
    startAgent();
    await receiver.waitFor((all) => all.some((h) => eventOf(h) === 'machine.online'), DEADLINE);
    await telegram.waitFor((all) => all.some((m) => m.text.includes('Machine Back Online')), DEADLINE);
    await daemon.waitForLine('Machine 1 (production-server) came back online');
    const online = receiver.received.find((h) => eventOf(h) === 'machine.online')!;
    expect(online.verified).toBe(true);
    expect(online.json).toMatchObject({ event: 'machine.online', machine: { status: 'online' }, offline_since: expect.any(String), downtime_seconds: expect.any(Number) });
    expect(receiver.received.map(eventOf)).toEqual(['machine.offline', 'machine.online']);

    // The receiver breaks; the machine goes silent again; the offline delivery fails and is rescheduled.
    failing = true;
    stopAgent();
    const failed = await receiver.waitFor((all) => all.some((h, i) => i >= 2 && eventOf(h) === 'machine.offline' && h.answeredStatus === 503), DEADLINE);
    const eventId = failed[2].headers['webhook-id'] as string;
    db = openDatabase(fresh!.location);
    const delivery = await until('the failure to be recorded', async () => {
      const row = await db.db
        .selectFrom('deliveries')
        .selectAll()
        .where('event_id', '=', eventId)
        .where('channel', '=', 'webhook')
        .executeTakeFirst();
      return row && row.attempts >= 1 && row.claimed_by === null ? row : undefined;
    });
    expect(delivery).toMatchObject({ status: 'pending', last_error: 'HTTP 503 Service Unavailable' });

    // SIGKILL while the delivery is failing, restart, let the receiver recover.
    daemon.child.kill('SIGKILL');
    expect((await daemon.exited()).signal).toBe('SIGKILL');

    daemon = startDaemon();
    await daemon.waitForLine('Heartbeat monitor started');
    failing = false;
    await receiver.waitFor((all) => all.some((h) => h.headers['webhook-id'] === eventId && h.answeredStatus === 200), DEADLINE);
    const resent = receiver.received.filter((h) => h.headers['webhook-id'] === eventId);
    expect(resent.every((h) => h.verified && h.rawBody === resent[0].rawBody)).toBe(true);

    // One offline event for that outage, whatever the crash; the API shows it delivered.
    const events = await db.db.selectFrom('events').select(['id', 'type']).orderBy('occurred_at').execute();
    expect(events.map((e) => e.type)).toEqual(['machine.offline', 'machine.online', 'machine.offline']);
    const listed = await until('GET /events to show the delivery delivered', async () => {
      const { json } = await call('GET', '/events?limit=10');
      const list = (Array.isArray(json) ? json : json.events) as Array<{ id: string; deliveries: Array<{ channel: string; status: string }> }>;
      const latest = list.find((e) => e.id === eventId);
      return latest?.deliveries.every((d) => d.status === 'delivered') ? latest : undefined;
    });
    expect(listed.deliveries.map((d) => d.channel).sort()).toEqual(['telegram', 'webhook']);

    // Both stop cleanly.
    daemon.child.kill('SIGTERM');
    api.child.kill('SIGTERM');
    const [daemonExit, apiExit] = await Promise.all([daemon.exited(), api.exited()]);
    expect(daemonExit.code).toBe(0);
    expect(daemonExit.stderr.trimEnd().split('\n').pop()).toMatch(/Heartbeat monitor stopped$/);
    expect(apiExit.code).toBe(0);
  });
});
