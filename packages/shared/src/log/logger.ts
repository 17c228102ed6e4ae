import { Writable } from 'node:stream';
import winston from 'winston';
import { createRedactor, type Redactor } from './redact';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFormat = 'text' | 'json';

/** The logger every package uses: winston's, narrowed to the four levels we log at. */
export type Logger = Pick<winston.Logger, 'error' | 'warn' | 'info' | 'debug' | 'child'> & {
  /** Flushes and closes the transport. */
  close(): Promise<void>;
};

export interface LoggerOptions {
  /** `text` (default) or `json`. JSON lines carry the same `message`. */
  format?: LogFormat;
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  /**
   * journald mode: text lines get a `<N>` syslog priority prefix and no timestamp of their own
   * (the journal stamps them). Default: on when `JOURNAL_STREAM` is set in `env`.
   */
  journald?: boolean;
  /** Masks secrets in every line. A fresh redactor with the built-in patterns by default. */
  redactor?: Redactor;
  /** Where lines go; default `process.stderr` (stdout stays free for command output). */
  stream?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

const PRIORITY: Record<string, number> = { error: 3, warn: 4, info: 6, debug: 7 };

/**
 * Text lines show control characters as escapes: a machine name holding a newline must not be able
 * to forge a line operators grep for ("… went offline"), nor a NUL or an ANSI escape reach a terminal.
 */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** Meta fields printed after the message in text format, `key=value`. */
function metaText(info: winston.Logform.TransformableInfo): string {
  const skip = new Set(['level', 'message', 'timestamp', 'stack']);
  const parts: string[] = [];
  for (const [key, value] of Object.entries(info)) {
    if (skip.has(key) || typeof key === 'symbol') continue;
    parts.push(`${key}=${escapeControl(typeof value === 'string' ? value : JSON.stringify(value))}`);
  }
  const stack = typeof info.stack === 'string' ? `\n${info.stack}` : '';
  return (parts.length > 0 ? ` ${parts.join(' ')}` : '') + stack;
}

/**
 * Builds a winston logger: text or JSON, journald priority prefixes, secret redaction applied to the
 * whole rendered line (message, meta and stacks alike).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const format = options.format ?? 'text';
  const journald = options.journald ?? Boolean(env.JOURNAL_STREAM);
  const redactor = options.redactor ?? createRedactor();
  const stream = options.stream ?? process.stderr;

  const render = winston.format.printf((info) => {
    const message = String(info.message);
    if (format === 'json') {
      const { level, message: _m, timestamp, ...meta } = info as Record<string, unknown>;
      const record = journald ? { level, message, ...meta } : { timestamp, level, message, ...meta };
      return redactor.redact(JSON.stringify(record));
    }
    const line = `${escapeControl(message)}${metaText(info)}`;
    if (journald) return redactor.redact(`<${PRIORITY[info.level] ?? 6}>${line}`);
    return redactor.redact(`${String(info.timestamp)} ${info.level.toUpperCase().padEnd(5)} ${line}`);
  });

  // Writing through a plain Writable keeps the target stream open when the logger closes.
  const sink = new Writable({
    write(chunk, _encoding, callback) {
      stream.write(chunk, callback);
    },
  });
  const transport = new winston.transports.Stream({ stream: sink });
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    format: winston.format.combine(winston.format.errors({ stack: true }), winston.format.timestamp(), render),
    transports: [transport],
  });
  return Object.assign(logger, {
    // The logger's own 'finish' comes before its lines are written: when the reader of a pipe is slow,
    // they wait in the transport and the sink, and a process.exit then would drop them (the last ones
    // first, "Heartbeat monitor stopped" among them). Done only once the target took every line.
    close: () =>
      new Promise<void>((resolve) => {
        transport.once('finish', () => sink.end(() => resolve()));
        logger.end();
      }),
  }) as unknown as Logger;
}
