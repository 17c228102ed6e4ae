/**
 * digest: 1,000 machines of one owner cross the threshold at once; the owner has a private Telegram
 * chat and a group chat. How many messages each chat gets and how long until its last one, with
 * digests (TELEGRAM_GROUP_WINDOW=10s, the default) and without (0s), against a fake Bot API on
 * 127.0.0.1 that enforces Telegram's limits (1 message a second per chat, 20 a minute per group,
 * 30 a second per bot) by answering 429 with retry_after.
 *
 * Without digests the storm takes far longer than a benchmark should run (1,000 messages at one a
 * second to the private chat, at 20 a minute to the group): that run is observed for a bounded
 * time, and its time to the last message is projected from the pace it kept.
 */
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { startFakeTelegram, type FakeTelegram } from '../../test/support/fake-telegram';
import { tempDir } from '../support/cleanup';
import { envInt, serviceEnv } from '../support/env';
import { seedFleet } from '../support/fleet';
import { HEARTBEAT_BIN, REPO_ROOT } from '../support/paths';
import { formatTable, newResult, targetRows, TARGET_HEADERS, writeResult, type TargetCheck } from '../support/results';
import { startService } from '../support/service';
import { round, sleep } from '../support/stats';

const MACHINES = envInt('BENCH_DIGEST_MACHINES', 1_000);
const TIMEOUT_MS = envInt('BENCH_DIGEST_TIMEOUT_S', 120) * 1000;
const OBSERVE_MS = envInt('BENCH_DIGEST_NO_WINDOW_OBSERVE_S', 75) * 1000;
const THRESHOLD = '5s';
const THRESHOLD_MS = 5_000;
const TOKEN = '424242:bench-token-for-the-fake-bot-api-0000';
const CHATS = { private: 4242, group: -100777 } as const;

interface ChatFigures {
  chat: keyof typeof CHATS;
  messages: number;
  /** notifications the messages account for (their count titles, or one for a single event's message) */
  notifications: number;
  /** detection start → first / last message (ms) */
  firstMs: number | undefined;
  lastMs: number | undefined;
  /** most messages in any rolling minute */
  busiestMinute: number;
  /** least time between two messages (ms) */
  closestMs: number | undefined;
  /** without digests: time to the last message, projected from the pace kept while observed (ms) */
  projectedLastMs?: number;
}

interface RunFigures {
  window: string;
  observedMs: number;
  complete: boolean;
  tooManyRequests: number;
  chats: ChatFigures[];
}

const log = (line: string) => process.stdout.write(`${line}\n`);

function notificationsIn(text: string): number {
  const titles = [...text.matchAll(/<b>(\d+) machines? [^<]*<\/b>/g)].map((m) => Number(m[1]));
  return titles.length === 0 ? 1 : titles.reduce((a, b) => a + b, 0);
}

function chatFigures(fake: FakeTelegram, chat: keyof typeof CHATS, detectedAt: number): ChatFigures {
  const sent = fake.accepted().filter((m) => m.chat_id === CHATS[chat]);
  const times = sent.map((m) => m.at);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  return {
    chat,
    messages: sent.length,
    notifications: sent.reduce((n, m) => n + notificationsIn(m.text), 0),
    firstMs: times.length === 0 ? undefined : times[0]! - detectedAt,
    lastMs: times.length === 0 ? undefined : times[times.length - 1]! - detectedAt,
    busiestMinute: Math.max(0, ...times.map((t) => times.filter((o) => o >= t && o < t + 60_000).length)),
    closestMs: gaps.length === 0 ? undefined : Math.min(...gaps),
  };
}

/** Time to the last of `total` messages at the pace kept so far (messages per ms over the observed span). */
function projectLast(figures: ChatFigures, total: number): number | undefined {
  if (figures.firstMs === undefined || figures.lastMs === undefined || figures.messages < 2) return undefined;
  if (figures.messages >= total) return figures.lastMs;
  const pace = (figures.lastMs - figures.firstMs) / (figures.messages - 1);
  return Math.round(figures.firstMs + pace * (total - 1));
}

async function runOnce(window: string, dir: string): Promise<RunFigures> {
  const path = join(dir, `digest-${window}.db`);
  const now = Date.now();
  await seedFleet(path, { machines: MACHINES, machinesPerUser: MACHINES, status: 'online', lastSeen: new Date(now - THRESHOLD_MS - 2_000).toISOString(), statusChangedAt: new Date(now - 86_400_000).toISOString() });
  const sqlite = new SqliteDatabase(path);
  const created = new Date(now).toISOString();
  for (const chatId of Object.values(CHATS)) {
    sqlite.prepare('INSERT INTO telegram_recipients (user_id, chat_id, is_active, created_at, updated_at) VALUES (1, ?, 1, ?, ?)').run(chatId, created, created);
  }
  const fake = await startFakeTelegram({ token: TOKEN, limits: true });
  const daemon = startService('daemon', HEARTBEAT_BIN, ['run', '--db', path, '--interval', '1s', '--threshold', THRESHOLD], {
    env: serviceEnv({ TELEGRAM_BOT_TOKEN: TOKEN, TELEGRAM_API_ROOT: fake.apiRoot, TELEGRAM_GROUP_WINDOW: window }),
    cwd: REPO_ROOT,
  });
  const expected = MACHINES * Object.keys(CHATS).length;
  const limit = window === '0s' ? OBSERVE_MS : TIMEOUT_MS;
  const started = Date.now();
  let detectedAt: number | undefined;
  let complete = false;
  try {
    while (Date.now() - started < limit) {
      await sleep(100);
      if (detectedAt === undefined) {
        // Detection start: the sweep's "now", stamped on every event it writes.
        const first = (sqlite.prepare('SELECT min(occurred_at) AS at FROM events').get() as { at: string | null }).at;
        if (first !== null) detectedAt = Date.parse(first);
      }
      const delivered = (sqlite.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'delivered'").get() as { n: number }).n;
      if (delivered === expected) {
        complete = true;
        break;
      }
    }
  } finally {
    await daemon.stop();
    sqlite.close();
  }
  const at = detectedAt ?? started;
  const chats = (Object.keys(CHATS) as Array<keyof typeof CHATS>).map((chat) => {
    const figures = chatFigures(fake, chat, at);
    return complete ? figures : { ...figures, projectedLastMs: projectLast(figures, MACHINES) };
  });
  const figures = { window, observedMs: Date.now() - started, complete, tooManyRequests: fake.tooManyRequests, chats };
  await fake.close();
  return figures;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${round(ms / 1000, 1)} s`);

async function main(): Promise<void> {
  const startedAt = new Date();
  const tmp = tempDir('lunasentri-bench-digest-');
  try {
    log(`digest: ${MACHINES} machines of one owner go offline at once; one private chat, one group chat`);
    const withDigests = await runOnce('10s', tmp.dir);
    log(`  TELEGRAM_GROUP_WINDOW=10s: ${withDigests.complete ? 'all delivered' : 'NOT all delivered'}, ${withDigests.tooManyRequests} answered 429`);
    const without = await runOnce('0s', tmp.dir);
    log(`  TELEGRAM_GROUP_WINDOW=0s: observed ${seconds(without.observedMs)}, ${without.tooManyRequests} answered 429`);
    const rows = [withDigests, without].flatMap((run) =>
      run.chats.map((c) => [
        run.window,
        c.chat,
        c.messages,
        c.notifications,
        seconds(c.firstMs),
        run.complete ? seconds(c.lastMs) : `${seconds(c.projectedLastMs)} (projected; ${seconds(c.lastMs)} observed)`,
        c.busiestMinute,
        seconds(c.closestMs),
        run.tooManyRequests,
      ]),
    );
    log(formatTable(['window', 'chat', 'messages', 'notifications in them', 'first message', 'last message', 'busiest minute', 'closest two', '429s'], rows));

    const worstMessages = Math.max(...withDigests.chats.map((c) => c.messages));
    const worstLast = Math.max(...withDigests.chats.map((c) => c.lastMs ?? Infinity));
    const counted = withDigests.chats.every((c) => c.notifications === MACHINES);
    const groupBusiest = Math.max(...[withDigests, without].map((r) => r.chats.find((c) => c.chat === 'group')!.busiestMinute));
    const targets: TargetCheck[] = [
      { metric: 'messages per chat with digests (1,000-machine storm)', measured: worstMessages, unit: '', target: '≤ 2', met: worstMessages <= 2 && counted && withDigests.complete },
      { metric: 'time to the last message with digests', measured: round(worstLast / 1000, 1), unit: 's', target: '≤ 12 s (window + 2 s)', met: worstLast <= 12_000 },
      { metric: '429s provoked (both runs)', measured: withDigests.tooManyRequests + without.tooManyRequests, unit: '', target: '0', met: withDigests.tooManyRequests + without.tooManyRequests === 0 },
      { metric: 'group chat: most messages in a minute (both runs)', measured: groupBusiest, unit: '', target: '≤ 20', met: groupBusiest <= 20 },
    ];
    log(formatTable(TARGET_HEADERS, targetRows('digest', targets)));
    const notes = [
      'Without digests the run is observed for a bounded time; its time to the last message is projected from the pace it kept (messages per chat are then those sent while observed).',
      'The daemon counts a send to a chat when its answer comes back (Telegram counts it on arrival, which is earlier), so messages to one chat are spaced by a little more than the limit: the answer time plus the time to record it.',
    ];
    const file = writeResult(newResult('digest', startedAt, { machines: MACHINES, threshold: THRESHOLD, observeNoWindowMs: OBSERVE_MS, chats: CHATS }, { withDigests, without }, targets, notes));
    log(`wrote ${file}`);
  } finally {
    tmp.remove();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`digest benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
