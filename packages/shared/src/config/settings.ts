import { formatDuration, parseDuration } from './duration';

/**
 * One setting, declared once: where it comes from (flag, env var), how it is parsed, its default and
 * its one-line doc. CLIs, `--help`, validation and the README table are all derived from these.
 */
export interface Setting<T> {
  /** Long flag without dashes, e.g. `interval` for `--interval`. */
  flag?: string;
  /** Environment variable name. */
  env?: string;
  /** An environment variable read before `env` (e.g. `DATABASE_URL` before `DB_PATH`). */
  primaryEnv?: string;
  /** Placeholder shown in help, e.g. `DUR`. */
  valueName: string;
  default: T;
  /** Parses raw text; throws an Error whose message explains what is expected. */
  parse(raw: string): T;
  /** Renders a value for help text and logs. */
  format(value: T): string;
  doc: string;
  /** Secret values are never echoed back in errors or help. */
  secret?: boolean;
}

export type SettingsSpec = Record<string, Setting<unknown>>;
export type SettingsValues<S extends SettingsSpec> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

/** A configuration value that cannot be used. Its message is one line naming the source and the value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The longest delay a Node timer can wait (2^31 − 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A positive Go duration. `min` guards against values that would turn a loop into a busy loop;
 * `max` (default: what a Node timer can wait, about 24.8 days) against values that overflow timers.
 */
export function durationSetting(
  options: Omit<Setting<number>, 'parse' | 'format' | 'valueName' | 'default'> & {
    default: string;
    min?: string;
    max?: string;
    /** `0s` (or `0`) is a value of its own, "off", rather than an error; `min` then applies to the other values */
    zeroMeansOff?: boolean;
  },
): Setting<number> {
  const { min, max, zeroMeansOff, ...rest } = options;
  const minMs = min === undefined ? 0 : parseDuration(min);
  const maxMs = max === undefined ? MAX_TIMER_MS : parseDuration(max);
  return {
    ...rest,
    valueName: 'DUR',
    default: parseDuration(options.default),
    parse(raw) {
      const ms = parseDuration(raw);
      if (ms === 0 && zeroMeansOff) return 0;
      if (ms <= 0) throw new Error(zeroMeansOff ? 'must be 0s (off) or a positive duration such as 10s or 1m' : 'must be a positive duration such as 30s, 2m or 1h30m');
      if (ms < minMs) throw new Error(`must be at least ${formatDuration(minMs)}`);
      if (ms > maxMs) throw new Error(`must be at most ${formatDuration(maxMs)}`);
      return ms;
    },
    format: formatDuration,
  };
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function booleanSetting(options: Omit<Setting<boolean>, 'parse' | 'format' | 'valueName'>): Setting<boolean> {
  return {
    ...options,
    valueName: 'BOOL',
    parse(raw) {
      const word = raw.trim().toLowerCase();
      if (TRUE_WORDS.has(word)) return true;
      if (FALSE_WORDS.has(word)) return false;
      throw new Error('must be true or false');
    },
    format: (value) => String(value),
  };
}

export function enumSetting<T extends string>(
  options: Omit<Setting<T>, 'parse' | 'format' | 'valueName'> & { values: readonly T[] },
): Setting<T> {
  const { values, ...rest } = options;
  return {
    ...rest,
    valueName: values.join('|'),
    parse(raw) {
      const value = raw.trim() as T;
      if (!values.includes(value)) throw new Error(`must be one of ${values.join(', ')}`);
      return value;
    },
    format: (value) => value,
  };
}

export function integerSetting(
  options: Omit<Setting<number>, 'parse' | 'format' | 'valueName'> & { min: number; max: number; valueName?: string },
): Setting<number> {
  const { min, max, valueName, ...rest } = options;
  return {
    ...rest,
    valueName: valueName ?? 'N',
    parse(raw) {
      const text = raw.trim();
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || value < min || value > max) throw new Error(`must be a whole number from ${min} to ${max}`);
      return value;
    },
    format: (value) => String(value),
  };
}

export function stringSetting(
  options: Omit<Setting<string>, 'parse' | 'format' | 'valueName'> & { valueName?: string; allowEmpty?: boolean },
): Setting<string> {
  const { valueName, allowEmpty, ...rest } = options;
  return {
    ...rest,
    valueName: valueName ?? 'TEXT',
    parse(raw) {
      if (!allowEmpty && raw.trim() === '') throw new Error('must not be empty');
      return raw;
    },
    format: (value) => (options.secret && value ? '(set)' : value),
  };
}

/** A `HOST:PORT` to listen on, split. */
export interface ListenAddress {
  /** a name or IP address; IPv6 without its brackets */
  host: string;
  /** 0: any free port */
  port: number;
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9._-]+)?$/;

/**
 * Splits `HOST:PORT` (`127.0.0.1:9464`, `localhost:9464`, `[::1]:9464`, `0.0.0.0:9464` for every
 * interface). The host is required: listening on every interface must be asked for by name.
 * @throws Error saying what is expected.
 */
export function parseListenAddress(raw: string): ListenAddress {
  const text = raw.trim();
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const host = match ? (match[1] ?? match[2] ?? '') : '';
  const port = match ? Number(match[3]) : NaN;
  const hostOk = match?.[1] !== undefined ? IPV6.test(host) && host.includes(':') : HOST_NAME.test(host);
  if (!match || !hostOk || !(port >= 0 && port <= 65535)) throw new Error('must be HOST:PORT, such as 127.0.0.1:9464 or [::1]:9464 (port 0 to 65535)');
  return { host, port };
}

/** A `HOST:PORT` to listen on; the default `''` means off. The value stays text (see {@link parseListenAddress}). */
export function listenAddressSetting(options: Omit<Setting<string>, 'parse' | 'format' | 'valueName' | 'default'>): Setting<string> {
  return {
    ...options,
    valueName: 'HOST:PORT',
    default: '',
    parse(raw) {
      parseListenAddress(raw);
      return raw.trim();
    },
    format: (value) => value,
  };
}

export interface SettingsSources {
  /** Raw flag values by setting key (as commander hands them over); undefined when not given. */
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
}

function describeValue(setting: Setting<unknown>, raw: string): string {
  return setting.secret ? '(hidden)' : JSON.stringify(raw);
}

/**
 * Resolves every setting: flag beats env, env beats default. An empty env var counts as set (and
 * is rejected by parsers that need a value) — never a silent fallback.
 * @throws ConfigError naming the flag or env var and the offending value.
 */
export function resolveSettings<S extends SettingsSpec>(spec: S, sources: SettingsSources): SettingsValues<S> {
  const flags = sources.flags ?? {};
  const env = sources.env ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(spec)) {
    const fromFlag = flags[key];
    const envName = setting.primaryEnv !== undefined && env[setting.primaryEnv] !== undefined ? setting.primaryEnv : setting.env;
    const fromEnv = envName !== undefined ? env[envName] : undefined;
    let raw: string | undefined;
    let source: string;
    if (fromFlag !== undefined) {
      raw = fromFlag;
      source = `--${setting.flag ?? key}`;
    } else if (fromEnv !== undefined) {
      raw = fromEnv;
      source = envName as string;
    } else {
      out[key] = setting.default;
      continue;
    }
    try {
      out[key] = setting.parse(raw);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError(`invalid value for ${source}: ${describeValue(setting, raw)} (${reason})`);
    }
  }
  return out as SettingsValues<S>;
}

/** The environment variables a setting reads, in the order they count. */
export function envNames(setting: Setting<unknown>): string[] {
  return [setting.primaryEnv, setting.env].filter((name): name is string => name !== undefined);
}

/** A Markdown table of settings (flag, env var, default, meaning), for the README and `--help`. */
export function settingsTable(spec: SettingsSpec): string {
  const rows = Object.values(spec).map((setting) => {
    const flag = setting.flag ? `\`--${setting.flag} ${setting.valueName}\`` : '';
    const env = envNames(setting).map((name) => `\`${name}\``).join(', ');
    const def = setting.default === '' || setting.default === undefined ? '(unset)' : `\`${setting.format(setting.default)}\``;
    // A bare | would end the cell, even inside backticks (GitHub's table syntax).
    return `| ${[flag, env, def, setting.doc].map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`;
  });
  return ['| flag | env | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
