/**
 * The demo behind `npm run demo`: the real API and daemon on a SQLite file under ./data/, a local
 * webhook receiver that verifies every signature, and an "agent" that reports, goes silent and comes
 * back. Prints what happens as it happens, stops everything and exits 0 — or exits 1 naming what did
 * not arrive. Needs a build first (scripts/demo.sh does it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, until } from '../test/support/net';
import { startWebhookReceiver, type ReceivedWebhook } from '../test/support/webhook-receiver';

const root = resolve(__dirname, '..');
const dbPath = resolve(process.env.LUNASENTRI_DEMO_DB ?? join(root, 'data', 'demo.db'));
const INTERVAL = '1s';
const THRESHOLD = '3s';
const DEADLINE_MS = 60_000;

const tty = process.stdout.isTTY;
const paint = (code: number, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = (t: string) => paint(1, t);
const dim = (t: string) => paint(2, t);
const red = (t: string) => paint(31, t);
const green = (t: string) => paint(32, t);
const started = Date.now();
const stamp = () => dim(`[+${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`);
const say = (text: string) => console.log(`${stamp()} ${text}`);

const children: ChildProcess[] = [];

function bin(name: string): string {
  return join(root, 'node_modules', '.bin', name);
}

function childEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DB_PATH: dbPath,
    // The receiver is on 127.0.0.1 over plain http: allowed for the demo only.
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_PRIVATE: 'true',
    TELEGRAM_BOT_TOKEN: '',
    LOG_FORMAT: 'text',
    LOG_LEVEL: 'info',
  };
}

/** Runs a CLI command to completion and returns its stdout. */
function runCommand(args: string[]): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(bin('lunasentri-api'), args, { env: childEnv() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`lunasentri-api ${args[0]} exited ${code}: ${err.trim()}`))));
  });
}

/** Starts a long-running binary, echoing its log lines with a label; `onLine` sees each line. */
function startService(label: string, name: string, args: string[], onLine: (line: string) => void = () => {}): ChildProcess {
  const child = spawn(bin(name), args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const echo = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      console.log(`${stamp()} ${dim(`${label.padEnd(6)} │`)} ${dim(line)}`);
      onLine(line);
    }
  };
  child.stdout?.on('data', echo);
  child.stderr?.on('data', echo);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

function describeDelivery(hook: ReceivedWebhook): string[] {
  const body = hook.json as Record<string, unknown> & { machine: Record<string, unknown> };
  const lines = [
    `event            ${bold(String(body.event))}  id ${String(body.event_id)}`,
    `machine          #${String(body.machine.id)} ${String(body.machine.name)} (${String(body.machine.hostname)}), status ${String(body.machine.status)}`,
    `last seen        ${String(body.machine.last_seen)}`,
  ];
  if (body.event === 'machine.online') lines.push(`offline since    ${String(body.offline_since)}  (downtime ${String(body.downtime_seconds)} s)`);
  lines.push(
    `signature        ${hook.verified ? green('✔ verified') : red(`✘ ${hook.verifyErrors.join('; ')}`)} (standardwebhooks: webhook-id/-timestamp/-signature; X-Webhook-Signature sha256)`,
  );
  return lines;
}

async function main(): Promise<void> {
  console.log(bold('LunaSentri Heartbeat demo') + dim(`  (interval ${INTERVAL}, threshold ${THRESHOLD}, database ${dbPath})`));
  mkdirSync(join(dbPath, '..'), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true });

  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const receiver = await startWebhookReceiver({
    secret,
    respond: (hook) => {
      const body = hook.json as { event?: string } | undefined;
      const icon = body?.event === 'machine.offline' ? red('●') : green('●');
      say(`${icon} ${bold('webhook received')} ${body?.event ?? '(not JSON)'}`);
      for (const line of describeDelivery(hook)) console.log(`           ${line}`);
      return undefined;
    },
  });
  say(`Webhook receiver listening on ${receiver.url}`);

  try {
    await runCommand(['migrate']);
    const created = await runCommand(['user', 'create', '--email', 'demo@example.com']);
    const token = /\b(lst_[A-Za-z0-9_-]{20,})/.exec(created)?.[1];
    if (!token) throw new Error('could not find the API token in the output of `lunasentri-api user create`');
    say('Created user demo@example.com and its API token');

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const api = startService('api', 'lunasentri-api', ['serve', '--port', String(port), '--host', '127.0.0.1']);
    await until('the API to answer /health', async () => {
      if (api.exitCode !== null) throw new Error(`the API exited with ${api.exitCode}`);
      return (await fetch(`${base}/health`).catch(() => undefined))?.ok ? true : undefined;
    }, DEADLINE_MS);

    const call = async (method: string, path: string, body?: unknown, key?: string) => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${key ?? token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
      return text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    };

    const machine = (await call('POST', '/agent/register', {
      name: 'demo-server',
      hostname: 'demo-01.example.com',
      description: 'A machine whose agent the demo stops and restarts',
    })) as { id: number; api_key: string };
    const apiKey = machine.api_key;
    say(`Registered machine #${machine.id} demo-server; its agent key is shown once`);
    await call('POST', '/notifications/webhooks', { url: receiver.url, secret });
    say('Added a webhook pointing at the receiver');

    let daemonStarted = false;
    const daemon = startService('daemon', 'lunasentri-heartbeat', ['run', '--interval', INTERVAL, '--threshold', THRESHOLD], (line) => {
      if (line.includes('Heartbeat monitor started')) daemonStarted = true;
    });
    await until('the daemon to start', () => {
      if (daemon.exitCode !== null) throw new Error(`the daemon exited with ${daemon.exitCode}`);
      return daemonStarted ? true : undefined;
    }, DEADLINE_MS);

    // The agent: the real Go agent's steady-state metrics body, once a second.
    let agentOn = true;
    const beat = async () => {
      if (!agentOn) return;
      await call('POST', '/agent/metrics', { cpu_pct: 12.5, mem_used_pct: 40.2, disk_used_pct: 23.5, net_rx_bytes: 696995159, net_tx_bytes: 13100327, uptime_s: 1035 }, apiKey);
    };
    const agent = setInterval(() => void beat().catch((e: Error) => say(red(`agent: ${e.message}`))), 1000);
    try {
      await beat();
      say('Agent is reporting every second');
      await until('the machine to be online', async () => {
        const { status } = (await call('GET', `/machines/${machine.id}`)) as { status?: string };
        return status === 'online' ? true : undefined;
      }, DEADLINE_MS);
      say(`Machine is ${green('online')} (its first report sends no notification)`);

      await new Promise((r) => setTimeout(r, 1500));
      agentOn = false;
      say(bold(`Agent stopped. The machine goes silent; offline is due ${THRESHOLD} after its last report…`));
      await receiver.waitFor((all) => all.some((h) => (h.json as { event?: string })?.event === 'machine.offline' && h.verified), DEADLINE_MS);

      await new Promise((r) => setTimeout(r, 1500));
      agentOn = true;
      say(bold('Agent restarted.'));
      await beat();
      await receiver.waitFor((all) => all.some((h) => (h.json as { event?: string })?.event === 'machine.online' && h.verified), DEADLINE_MS);
    } finally {
      clearInterval(agent);
    }

    say('Stopping the daemon and the API (SIGTERM)…');
    daemon.kill('SIGTERM');
    api.kill('SIGTERM');
    const [daemonCode, apiCode] = await Promise.all([exited(daemon), exited(api)]);
    if (daemonCode !== 0 || apiCode !== 0) throw new Error(`unclean stop: daemon exited ${daemonCode}, API exited ${apiCode}`);
    const events = receiver.received.map((h) => (h.json as { event?: string }).event);
    console.log(
      `\n${green('✔')} ${bold('Demo complete:')} one offline and one recovery notification, both signatures verified ` +
        `(${receiver.received.length} webhook deliveries: ${events.join(', ')}). Database: ${dbPath}`,
    );
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await receiver.close();
  }
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(`\n${red('✘ Demo failed:')} ${error.message}`);
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(1);
  },
);
