'use strict';
// `npm start -- [options]`: sorts the options given to `npm start` between the processes that read
// them, from the setting declarations themselves (run after `tsc -b`): `--db` goes to `migrate`, the
// API and the daemon, `--port`/`--host` to the API, `--interval`/`--threshold` to the daemon, and so
// on. Each value is checked as the process would check it, so a bad one stops everything before
// anything starts. Prints NUL-separated `<target>\0<argument>\0` pairs for scripts/start.sh, then
// `db\0<database>\0` and `port\0<port>\0` for its banner.
const { ConfigError, describeDatabase, resolveSettings } = require('../packages/shared/dist');
const { adminSettings, serveSettings } = require('../packages/api/dist');
const { runSettings } = require('../packages/heartbeat-daemon/dist');

const targets = { migrate: adminSettings, api: serveSettings, daemon: runSettings };

/** Every flag a target takes, `port` → setting key. */
function flagsOf(spec) {
  const flags = new Map();
  for (const [key, setting] of Object.entries(spec)) if (setting.flag) flags.set(setting.flag, key);
  return flags;
}

function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(2);
}

function usage() {
  const all = new Set(Object.values(targets).flatMap((spec) => [...flagsOf(spec).keys()]));
  return `npm start [-- OPTIONS]: the API and the daemon in the foreground. OPTIONS are those of
lunasentri-api serve and lunasentri-heartbeat run, each passed to the process that reads it:
  ${[...all].map((f) => `--${f}`).join(' ')}
e.g. npm start -- --threshold 10s --port 8081. Environment settings (see the README) work as well.
`;
}

/** `--flag value` and `--flag=value` pairs, in order. */
function parse(argv) {
  const pairs = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      // On stderr: stdout carries the plan, and start.sh reads a plan-less success as "help shown".
      process.stderr.write(usage());
      process.exit(0);
    }
    const match = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!match) fail(`unexpected argument '${arg}' (npm start takes only options; see npm start -- --help)`);
    const [, flag, inline] = match;
    if (!Object.values(targets).some((spec) => flagsOf(spec).has(flag))) fail(`unknown option '--${flag}' (see npm start -- --help)`);
    // `--port --db x`: the next option is not a value (a value that starts with -- takes the = form).
    const value = inline ?? (argv[i + 1]?.startsWith('--') ? undefined : argv[++i]);
    if (value === undefined) fail(`option '--${flag}' needs a value`);
    pairs.push({ flag, value });
  }
  return pairs;
}

const out = [];
const pairs = parse(process.argv.slice(2));
const resolved = {};
for (const [target, spec] of Object.entries(targets)) {
  const flags = flagsOf(spec);
  const values = {};
  for (const { flag, value } of pairs) {
    if (!flags.has(flag)) continue;
    values[flags.get(flag)] = value;
    out.push(target, `--${flag}=${value}`);
  }
  try {
    resolved[target] = resolveSettings(spec, { flags: values, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}
out.push('db', describeDatabase(resolved.api.db), 'port', String(resolved.api.port));
process.stdout.write(out.map((s) => `${s}\0`).join(''));
