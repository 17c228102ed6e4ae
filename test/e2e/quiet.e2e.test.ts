import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase, type DatabaseHandle } from '@lunasentri/shared';
import { Children, binary, cleanEnv, type Running } from '../support/child-process';
import { tempDir } from '../support/db';
import { freePort, until as untilWithin } from '../support/net';
import { startWebhookReceiver, type ReceivedWebhook, type WebhookReceiver } from '../support/webhook-receiver';

/*
 * Quiet alerts (CONTRACT §6.2–§6.4) through the real built binaries (`tsc -b` first) on a temp
 * SQLite file: agents heartbeat over HTTP, the daemon decides, a verifying receiver records what the
 * channels were told. Short intervals; every wait is for something observable, with a generous
 * deadline (the machine's cores are shared).
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ROOT = resolve(__dirname, '..', '..');
const DEADLINE = 45_000;

jest.setTimeout(240_000);

const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, deadlineMs = DEADLINE) => untilWithin(what, probe, deadlineMs);
const sleepUntil = (at: number) => until(`the clock to reach ${new Date(at).toISOString()}`, () => (Date.now() >= at ? true : undefined), Math.max(DEADLINE, at - Date.now() + DEADLINE));

interface Body {
  event: string;
  occurred_at: string;
  machine: { id: number; name: string; status: string };
  reminder?: number;
  transitions?: number;
}
const bodyOf = (h: ReceivedWebhook) => h.json as Body;
const line = (h: ReceivedWebhook) => `${bodyOf(h).event} ${bodyOf(h).machine.name} ${bodyOf(h).machine.status}`;

/** An API, a daemon, a receiver and agents on one temp database. */
class Stack {
  readonly children = new Children();
  readonly dir = tempDir('lunasentri-quiet-e2e-');
  readonly env: NodeJS.ProcessEnv;
  receiver!: WebhookReceiver;
  base = '';
  token = '';
  daemon: Running | undefined;
  private readonly keys = new Map<string, { id: number; key: string }>();
  private readonly reporting = new Set<string>();
  private agent: NodeJS.Timeout | undefined;

  constructor(private readonly daemonArgs: string[]) {
    this.env = cleanEnv({
      DB_PATH: join(this.dir.dir, 'lunasentri.db'),
      WEBHOOK_ALLOW_HTTP: 'true',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      MACHINE_HEARTBEAT_CHECK_INTERVAL: '1s',
      MACHINE_OFFLINE_THRESHOLD: '2s',
    });
  }

  async start(machines: string[]): Promise<void> {
    this.receiver = await startWebhookReceiver({ secret: SECRET });
    expect((await this.children.run(binary('lunasentri-api'), ['migrate'], this.env)).code).toBe(0);
    const user = await this.children.run(binary('lunasentri-api'), ['user', 'create', '--email', 'ops@example.com', '--json'], this.env);
    this.token = (JSON.parse(user.stdout) as { token: string }).token;
    for (const name of machines) {
      const created = await this.children.run(binary('lunasentri-api'), ['machine', 'create', '--email', 'ops@example.com', '--name', name, '--json'], this.env);
      const parsed = JSON.parse(created.stdout) as { machine: { id: number }; api_key: string };
      this.keys.set(name, { id: parsed.machine.id, key: parsed.api_key });
    }
    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    this.children.start(binary('lunasentri-api'), ['serve', '--port', String(port), '--host', '127.0.0.1'], this.env);
    await until('the API to answer /health', async () => ((await fetch(`${this.base}/health`).catch(() => undefined))?.ok ? true : undefined));
    expect((await this.call('POST', '/notifications/webhooks', { url: this.receiver.url, secret: SECRET })).status).toBe(201);
    this.agent = setInterval(() => {
      for (const name of this.reporting) void this.call('POST', '/agent/heartbeat', undefined, this.keys.get(name)!.key).catch(() => undefined);
    }, 250);
  }

  id(name: string): number {
    return this.keys.get(name)!.id;
  }

  report(...names: string[]): void {
    for (const name of names) this.reporting.add(name);
  }

  silence(...names: string[]): void {
    for (const name of names) this.reporting.delete(name);
  }

  async startDaemon(): Promise<void> {
    this.daemon = this.children.start(binary('lunasentri-heartbeat'), ['run', ...this.daemonArgs], this.env);
    await this.daemon.waitForLine('Heartbeat monitor started');
  }

  async stopDaemon(): Promise<void> {
    this.daemon!.child.kill('SIGTERM');
    expect((await this.daemon!.exited()).code).toBe(0);
  }

  async call(method: string, path: string, body?: unknown, auth = this.token): Promise<{ status: number; json: any }> {
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
  }

  async onlineAll(names: string[]): Promise<void> {
    this.report(...names);
    await until('every machine to be online', async () => {
      const { json } = await this.call('GET', '/machines');
      return (json as Array<{ status: string }>).every((m) => m.status === 'online') ? true : undefined;
    });
  }

  told(name?: string): string[] {
    return this.receiver.received.filter((h) => name === undefined || bodyOf(h).machine.name === name).map(line);
  }

  async stop(): Promise<void> {
    if (this.agent) clearInterval(this.agent);
    await this.children.killAll();
    await this.receiver?.close();
    this.dir.cleanup();
  }
}

describe('quiet alerts end to end', () => {
  let stack: Stack | undefined;

  beforeAll(() => {
    for (const bin of ['api', 'heartbeat-daemon']) {
      if (!existsSync(join(ROOT, 'packages', bin, 'dist', 'main.js'))) throw new Error('build first: node_modules/.bin/tsc -b');
    }
  });
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
  });

  test('a machine flapping 4 s down / 4 s up for a minute sends one flapping and one ended notice; a steady outage sends offline and online', async () => {
    stack = new Stack(['--flap-threshold', '3', '--flap-window', '2m', '--flap-settle', '10s']);
    await stack.start(['flappy', 'steady']);
    await stack.startDaemon();
    await stack.onlineAll(['flappy', 'steady']);

    const began = Date.now();
    stack.silence('steady');
    for (let cycle = 0; cycle < 8; cycle++) {
      stack.silence('flappy');
      await sleepUntil(began + cycle * 8_000 + 4_000);
      stack.report('flappy');
      if (cycle === 1) stack.report('steady'); // one outage of about 12 s
      await sleepUntil(began + cycle * 8_000 + 8_000);
    }
    // Reporting steadily now: it settles online 10 s after its last change.
    await stack.receiver.waitFor((all) => all.some((h) => bodyOf(h).event === 'machine.flapping_ended'), DEADLINE);
    await stack.daemon!.waitForLine(/Machine \d+ \(flappy\) stopped flapping: online/);
    expect(stack.told('flappy')).toEqual(['machine.offline flappy offline', 'machine.online flappy online', 'machine.flapping flappy offline', 'machine.flapping_ended flappy online']);
    expect(stack.told('steady')).toEqual(['machine.offline steady offline', 'machine.online steady online']);
    expect(stack.receiver.received.every((h) => h.verified)).toBe(true);
    const flapping = stack.receiver.received.find((h) => bodyOf(h).event === 'machine.flapping')!;
    expect(flapping.json).toMatchObject({ transitions: 3, window_seconds: 120 });
    // Every change while flapping is in the history, suppressed, with no deliveries.
    const { json: events } = await stack.call('GET', `/events?machine_id=${stack.id('flappy')}&limit=100`);
    const suppressed = (events as Array<{ suppressed: string | null; deliveries: unknown[] }>).filter((e) => e.suppressed === 'flapping');
    expect(suppressed.length).toBeGreaterThanOrEqual(8);
    expect(suppressed.every((e) => e.deliveries.length === 0)).toBe(true);
  });

  test('six machines through a one-off window get only the notices §6.3 gives', async () => {
    stack = new Stack([]);
    const names = ['down-before-and-after', 'down-and-back-inside', 'down-inside-still-down', 'online-throughout', 'snoozed-next-online', 'last-report-before-end'];
    await stack.start(names);
    await stack.startDaemon();
    await stack.onlineAll(names);

    const t0 = Date.now();
    const starts = t0 + 10_000;
    const ends = t0 + 30_000;
    const window = await stack.call('POST', '/maintenance', { name: 'reboot', starts_at: new Date(starts).toISOString(), ends_at: new Date(ends).toISOString() });
    expect(window.status).toBe(201);
    stack.silence('down-before-and-after', 'snoozed-next-online');
    await stack.receiver.waitFor((all) => all.filter((h) => bodyOf(h).event === 'machine.offline').length === 2, DEADLINE);
    expect((await stack.call('POST', `/machines/${stack.id('snoozed-next-online')}/snooze`, { until: 'next-online' })).json.snoozed_until).toBe('next-online');
    await sleepUntil(starts + 2_000);
    expect((await stack.call('GET', `/maintenance/${window.json.id}`)).json.active).toBe(true);
    stack.silence('down-and-back-inside', 'down-inside-still-down');
    await sleepUntil(starts + 10_000);
    stack.report('down-and-back-inside', 'snoozed-next-online');
    await sleepUntil(ends - 1_000);
    stack.silence('last-report-before-end');
    await stack.receiver.waitFor((all) => all.some((h) => line(h) === 'machine.online snoozed-next-online online'), DEADLINE);
    await sleepUntil(ends + 6_000);
    stack.silence('snoozed-next-online');
    await stack.receiver.waitFor((all) => all.filter((h) => line(h) === 'machine.offline snoozed-next-online offline').length === 2, DEADLINE);
    await sleepUntil(Date.now() + 5_000); // anything else would have arrived by now

    expect(stack.told('down-before-and-after')).toEqual(['machine.offline down-before-and-after offline']);
    expect(stack.told('down-and-back-inside')).toEqual([]);
    expect(stack.told('down-inside-still-down')).toEqual(['machine.offline down-inside-still-down offline']);
    expect(stack.told('online-throughout')).toEqual([]);
    expect(stack.told('snoozed-next-online')).toEqual(['machine.offline snoozed-next-online offline', 'machine.online snoozed-next-online online', 'machine.offline snoozed-next-online offline']);
    expect(stack.told('last-report-before-end')).toEqual(['machine.offline last-report-before-end offline']);
    // Thresholds count from the end: nothing owed was announced before end + 2 s.
    for (const name of ['down-inside-still-down', 'last-report-before-end']) {
      const offline = stack.receiver.received.find((h) => line(h) === `machine.offline ${name} offline`)!;
      expect(Date.parse(bodyOf(offline).occurred_at)).toBeGreaterThan(ends + 2_000);
    }
    const { json: events } = await stack.call('GET', '/events?limit=100');
    const held = (events as Array<{ suppressed: string | null; deliveries: unknown[] }>).filter((e) => e.suppressed === 'maintenance');
    expect(held.length).toBe(4);
    expect(held.every((e) => e.deliveries.length === 0)).toBe(true);
  });

  test('reminders come at their times, and a daemon stopped across two due times sends one on start, then keeps the grid', async () => {
    stack = new Stack([]);
    await stack.start(['down']);
    // The API refuses a remind_every under 5m; a test cannot wait that long, so the preference row
    // is written directly with 4 s (the daemon applies whatever is stored).
    expect((await stack.call('PUT', '/notifications/preferences', { remind_every: '5m', remind_max: 4 })).status).toBe(200);
    const db: DatabaseHandle = openDatabase(stack.env.DB_PATH!);
    try {
      await db.db.updateTable('notification_preferences').set({ remind_every_ms: 4_000 }).execute();
    } finally {
      await db.close();
    }
    await stack.startDaemon();
    await stack.onlineAll(['down']);
    stack.silence('down');
    const [offline] = (await stack.receiver.waitFor((all) => all.length === 1, DEADLINE)).map(bodyOf);
    expect(offline.event).toBe('machine.offline');
    const announced = Date.parse(offline.occurred_at);
    const reminders = () => stack!.receiver.received.map(bodyOf).filter((b) => b.event === 'machine.still_offline');

    await stack.receiver.waitFor(() => reminders().length === 1, DEADLINE);
    await stack.stopDaemon(); // due times at +8 s and +12 s pass while it is stopped
    await sleepUntil(announced + 13_000);
    await stack.startDaemon();
    const restarted = Date.now() - announced;
    await stack.receiver.waitFor(() => reminders().length === 4, DEADLINE);
    await sleepUntil(Date.now() + 6_000); // no fifth: remind_max is 4
    const got = reminders().map((b) => ({ reminder: b.reminder, after: Date.parse(b.occurred_at) - announced }));
    expect(got.map((r) => r.reminder)).toEqual([1, 2, 3, 4]);
    // On the grid (announced + k × 4 s), to within the daemon's wake-up latency; the catch-up when it started.
    expect(got[0].after).toBeGreaterThanOrEqual(4_000);
    expect(got[0].after).toBeLessThan(5_500);
    // The catch-up: at the restarted daemon's first check (however long its start took), one only.
    expect(got[1].after).toBeGreaterThanOrEqual(13_000);
    expect(got[1].after).toBeLessThan(restarted + 2_000);
    const gridAfter = (ms: number) => Math.ceil((ms + 1) / 4_000) * 4_000;
    expect(got[2].after).toBeGreaterThanOrEqual(gridAfter(got[1].after));
    expect(got[2].after).toBeLessThan(gridAfter(got[1].after) + 1_500);
    expect(got[3].after).toBeGreaterThanOrEqual(gridAfter(got[2].after));
    expect(got[3].after).toBeLessThan(gridAfter(got[2].after) + 1_500);
    expect(reminders()).toHaveLength(4);
  });
});
