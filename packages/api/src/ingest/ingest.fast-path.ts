import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { FastifyError } from 'fastify';
import { nowMs } from '@lunasentri/shared';
import type { RefusedKeysReporter } from '../credentials/refused-keys.reporter';
import { checkMachineKey } from '../http/auth';
import type { ApiContext } from '../http/context';
import { BODY_LIMIT_BYTES, errorAnswer, recordLivenessOfRefusedReport, unexpectedError, type JsonBodyParser } from '../http/answers';
import type { ApiMetrics } from '../metrics/api.metrics';
import type { MetricsBodyValidator } from './ingest.schemas';

export const METRICS_URL = '/agent/metrics';
export const HEARTBEAT_URL = '/agent/heartbeat';

const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/** What the fast path does with a report once its key is checked and its body validated. */
export interface AgentReportHandlers {
  metrics(machineId: number, body: unknown, receivedAtMs: number): void;
  heartbeat(machineId: number, receivedAtMs: number): void;
}

export interface IngestFastPathOptions {
  parseBody: JsonBodyParser;
  validate: MetricsBodyValidator;
  handlers: AgentReportHandlers;
  metrics?: ApiMetrics;
  counts?: FastPathCounts;
}

export interface FastPathCounts {
  /** requests the fast path took and answered itself */
  answered: number;
}

/**
 * The two agent routes answered straight from Node's `request` event, before the web framework sees
 * the request: an agent report is the one request a fleet sends thousands of times a second, and
 * Fastify's per-request machinery (request and reply objects, hook chains, promise hops) costs more
 * than the report itself. It runs the same steps as the routes: the same key check, JSON parser,
 * compiled schema and error answers, the same liveness rule for refused bodies and the same metrics.
 *
 * It takes only requests it can finish alone, decided from the request line and headers before a byte
 * of the body is read: `POST` to exactly one of the two paths, no `Transfer-Encoding`, a
 * `Content-Length` within the limit, and a JSON body (`/agent/metrics`) or none (`/agent/heartbeat`).
 * Everything else (a query string, a chunked or oversized body, another media type, a stop under way)
 * goes to Fastify untouched, which answers it as before.
 */
export class IngestFastPath {
  private open = true;

  constructor(
    private readonly ctx: ApiContext,
    private readonly refused: RefusedKeysReporter,
    private readonly options: IngestFastPathOptions,
  ) {}

  /** Puts the fast path in front of the framework's handler, on the server's `request` event. */
  install(server: Server): void {
    const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    if (handlers.length !== 1) throw new Error(`the ingest fast path expects one request handler, found ${handlers.length}`);
    const [framework] = handlers;
    server.removeListener('request', framework);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (!this.take(req, res)) framework(req, res);
    });
  }

  /** From now on every request goes to the framework (which answers 503 while it closes). */
  close(): void {
    this.open = false;
  }

  /** Answers the request (true), or leaves it to the framework untouched (false). */
  take(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.open || req.method !== 'POST') return false;
    const url = req.url;
    const withBody = url === METRICS_URL;
    if (!withBody && url !== HEARTBEAT_URL) return false;
    const headers = req.headers;
    if (headers['transfer-encoding'] !== undefined) return false;
    const length = headers['content-length'] === undefined ? 0 : Number(headers['content-length']);
    if (withBody ? !(length > 0 && length <= BODY_LIMIT_BYTES && JSON_TYPES.has(headers['content-type']?.toLowerCase() ?? '')) : length !== 0) return false;

    if (this.options.counts) this.options.counts.answered++;
    const started = this.options.metrics ? performance.now() : 0;
    const route = withBody ? METRICS_URL : HEARTBEAT_URL;
    const receivedAtMs = nowMs(this.ctx.clock);
    checkMachineKey(this.ctx, this.refused, headers, req.socket, receivedAtMs, (error, machineId) => {
      if (error) return this.fail(res, route, error, undefined, started);
      if (!withBody) return this.handle(res, route, started, () => this.options.handlers.heartbeat(machineId!, receivedAtMs));
      this.readReport(req, res, machineId!, receivedAtMs, started);
    });
    return true;
  }

  /** Node ends the body at its `Content-Length` (a client gone short of it never reaches 'end'). */
  private readReport(req: IncomingMessage, res: ServerResponse, machineId: number, receivedAtMs: number, started: number): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', ignore);
    req.on('end', () => {
      // Decoded at once, so a multi-byte character split across chunks stays whole.
      const text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
      this.options.parseBody(text, (error, value) => {
        if (error) return this.fail(res, METRICS_URL, error, machineId, started);
        const validate = this.options.validate;
        if (!validate(value)) return this.fail(res, METRICS_URL, validationError(validate.errors ?? []), machineId, started);
        this.handle(res, METRICS_URL, started, () => this.options.handlers.metrics(machineId, value, receivedAtMs));
      });
    });
  }

  /** Hands a valid report on and answers 202; a failure there is a 500, as a throwing route's would be. */
  private handle(res: ServerResponse, route: string, started: number, record: () => void): void {
    try {
      record();
    } catch (error) {
      return this.fail(res, route, error instanceof Error ? error : new Error(String(error)), undefined, started);
    }
    this.accept(res, route, started);
  }

  private accept(res: ServerResponse, route: string, started: number): void {
    res.statusCode = 202;
    // Node adds `Content-Length: 0`.
    res.end();
    this.options.metrics?.observeAnswer(route, 'POST', 202, (performance.now() - started) / 1000, true);
  }

  private fail(res: ServerResponse, route: string, error: Error, machineId: number | undefined, started: number): void {
    recordLivenessOfRefusedReport(this.ctx, error as FastifyError, 'ingest', machineId);
    const answer = errorAnswer(error as FastifyError, 'ingest') ?? unexpectedError(this.ctx, error, 'POST', route);
    const body = JSON.stringify(answer.body);
    res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
    this.options.metrics?.observeAnswer(route, 'POST', answer.status, (performance.now() - started) / 1000, true);
  }
}

/** A client gone mid-body has no one to answer. */
const ignore = (): void => undefined;

/** A schema violation in the shape the framework gives it, so both paths answer it alike. */
function validationError(errors: NonNullable<MetricsBodyValidator['errors']>): Error {
  return Object.assign(new Error('body is invalid'), { statusCode: 400, code: 'FST_ERR_VALIDATION', validation: errors, validationContext: 'body' });
}
