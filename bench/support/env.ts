/** Benchmark knobs come from BENCH_* variables so the runner's --quick mode and a curious reader can shrink a run. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

export function envIntList(name: string, fallback: number[]): number[] {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`${name} must be positive integers separated by commas, got ${JSON.stringify(text)}`);
  return values;
}

/** The environment for a service under test: ours, minus settings that would change what it measures. */
export function serviceEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [
    'DB_PATH',
    'DATABASE_URL',
    'PORT',
    'HOST',
    'MACHINE_HEARTBEAT_CHECK_INTERVAL',
    'MACHINE_OFFLINE_THRESHOLD',
    'TELEGRAM_BOT_TOKEN',
    'TELEGRAM_API_ROOT',
    'TELEGRAM_GROUP_WINDOW',
    'WEBHOOK_ALLOW_HTTP',
    'WEBHOOK_ALLOW_PRIVATE',
    'WEBHOOK_TIMEOUT',
    'LOG_FORMAT',
    'LOG_LEVEL',
    'JOURNAL_STREAM',
    'NODE_OPTIONS',
    'TS_NODE_PROJECT',
  ]) {
    delete env[name];
  }
  // For profiling a service under benchmark load, e.g. BENCH_SERVICE_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof".
  if (process.env.BENCH_SERVICE_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_SERVICE_NODE_OPTIONS;
  return { ...env, ...extra };
}
