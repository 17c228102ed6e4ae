import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerEventRoutes } from '../events/events.routes';
import { registerHealthRoutes } from '../health/health.routes';
import { registerIngestRoutes } from '../ingest/ingest.routes';
import { registerMachineRoutes } from '../machines/machines.routes';
import { registerMaintenanceRoutes } from '../maintenance/maintenance.routes';
import type { FastPathCounts } from '../ingest/ingest.fast-path';
import type { ApiMetrics } from '../metrics/api.metrics';
import { registerPreferenceRoutes } from '../notifications/preferences.routes';
import { registerTelegramRoutes } from '../notifications/telegram.routes';
import { registerWebhookRoutes } from '../notifications/webhooks.routes';
import { registerStatusPageRoutes } from '../status-page/status-page.routes';
import { registerUptimeRoutes } from '../uptime/uptime.routes';
import { registerWebRoutes } from '../web/web.plugin';
import { userTokenHook } from './auth';
import type { ApiContext } from './context';
import { AJV_OPTIONS, BODY_LIMIT_BYTES, errorAnswer, errorBody, recordLivenessOfRefusedReport, unexpectedError, type JsonBodyParser } from './answers';
import { illFormedBodyError } from './well-formed';

/** A request (headers and body) must arrive within this; a client trickling bytes cannot hold a socket, or a stop, open. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** The headers alone must arrive within this. */
export const HEADERS_TIMEOUT_MS = 10_000;

export interface ServerOptions {
  /** default {@link REQUEST_TIMEOUT_MS} */
  requestTimeoutMs?: number;
  /** with metrics on, every answer is timed and agent reports are counted; off, requests pay nothing */
  metrics?: ApiMetrics;
  /** counted into by the ingest fast path */
  fastPath?: FastPathCounts;
}

/**
 * The HTTP API as a Fastify instance (not listening yet). Fastify gives routing, the body limit and
 * JSON-schema validation (ajv, compiled once per route); the options below make validation strict:
 * no type coercion, unknown fields rejected rather than silently dropped.
 */
export function buildServer(ctx: ApiContext, options: ServerOptions = {}): FastifyInstance {
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    // Fastify's default is 0 (none): a socket trickling a body would then live, and hold a stop, forever.
    requestTimeout,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
      // Node checks the two timeouts above only this often (its default is 30 s).
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(requestTimeout / 2))),
    },
    // Let in-flight requests finish on close, but drop idle keep-alive sockets so close is prompt.
    forceCloseConnections: 'idle',
    ajv: { customOptions: AJV_OPTIONS },
    clientErrorHandler,
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send(errorBody('request.bad_request', error.message));
    },
  });

  const parseBody = jsonBodyParser(app);
  registerJsonParser(app, parseBody);
  if (options.metrics) app.addHook('onResponse', options.metrics.onResponse);
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(ctx, error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('route.not_found', `no route for ${request.method} ${request.url.split('?')[0].slice(0, 200)}`));
  });

  registerHealthRoutes(app, ctx);
  registerIngestRoutes(app, ctx, { parseBody, metrics: options.metrics, counts: options.fastPath });
  // The dashboard and the public status pages: HTML, with their own cookies, forms and headers.
  registerWebRoutes(app, ctx);
  // Everything a user does goes through the personal-token hook; its scope ends with this plugin.
  void app.register(async (user) => {
    user.addHook('onRequest', userTokenHook(ctx));
    registerMachineRoutes(user, ctx);
    registerWebhookRoutes(user, ctx);
    registerTelegramRoutes(user, ctx);
    registerPreferenceRoutes(user, ctx);
    registerEventRoutes(user, ctx);
    registerMaintenanceRoutes(user, ctx);
    registerUptimeRoutes(user, ctx);
    registerStatusPageRoutes(user, ctx);
  });
  return app;
}

/**
 * JSON is the only body type accepted (anything else: 415), and a string in it (value or key) with
 * a lone UTF-16 surrogate is a 400 on every route. An empty JSON body counts as no body,
 * so `POST /agent/heartbeat` with `Content-Type: application/json` and nothing else is fine; routes
 * that need a body reject `undefined` through their schema.
 *
 * An EMPTY body is accepted whatever its content type (`curl -d ''` sends it as a form): it is no body
 * at all. Any other content type with a non-empty body is 415 — decided from `Content-Length` without
 * reading the body, or, for a chunked body, at its first byte.
 */
function registerJsonParser(app: FastifyInstance, parseBody: JsonBodyParser): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => parseBody(body as string, done));
  app.addContentTypeParser('*', (request, payload, done) => {
    const unsupported = () => new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(String(request.headers['content-type'] ?? '').slice(0, 100));
    const length = request.headers['content-length'];
    if (request.headers['transfer-encoding'] === undefined) {
      // Node has already refused a Content-Length that is not a number.
      return length === undefined || Number(length) === 0 ? done(null, undefined) : done(unsupported());
    }
    let settled = false;
    const settle = (error: Error | null) => {
      if (settled) return;
      settled = true;
      if (error) done(error);
      else done(null, undefined);
    };
    payload.on('data', (chunk: Buffer) => {
      if (chunk.length > 0) settle(unsupported());
    });
    payload.on('end', () => settle(null));
    payload.on('error', (error: Error) => settle(error));
  });
}

/** Fastify's JSON parser (a `__proto__` or `constructor.prototype` key is refused), then the UTF-8 check. */
function jsonBodyParser(app: FastifyInstance): JsonBodyParser {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  return (text, done) => {
    if (text === '') return done(null, undefined);
    // Without a backslash, a `__proto__`, a `constructor` or a byte-order mark (which the full parser
    // strips), there is no key to refuse and no escaped surrogate: plain JSON.parse gives the same
    // value. Every Go agent report takes this way.
    if (text.charCodeAt(0) !== 0xfeff && !text.includes('\\') && !text.includes('__proto__') && !text.includes('constructor')) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY());
      }
      return done(null, value);
    }
    // The parser ignores its request argument.
    parseJson(undefined as never, text, (error: Error | null, value?: unknown) => {
      if (error) return done(error);
      // Text that cannot be UTF-8 is refused before any route sees it, whatever the route stores.
      const illFormed = illFormedBodyError(text, value);
      if (illFormed) return done(illFormed);
      done(null, value);
    });
  };
}

/** Node's parse errors (before any route runs): status, code and message of the answer. */
function clientErrorAnswer(error: NodeJS.ErrnoException): { status: number; code: string; message: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'http.headers_too_large', message: 'request headers are too large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'http.request_timeout', message: 'request did not arrive in time' };
    default:
      return { status: 400, code: 'http.bad_request', message: 'malformed HTTP request' };
  }
}

/**
 * Replaces Fastify's default answer to a request Node could not parse (garbage request line, both
 * Content-Length and chunked, headers too large, request timeout), which is `{"error":"Bad
 * Request","message":"Client Error","statusCode":400}`, with the API's `{error, code}`; the socket is
 * then closed, since the stream can no longer be trusted. Nothing is written over a response that has
 * already started.
 */
function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const answer = clientErrorAnswer(error);
  const body = JSON.stringify(errorBody(answer.code, answer.message));
  socket.end(
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
  // A client that never reads must not keep the socket open.
  setTimeout(() => socket.destroy(), 1_000).unref();
}

function sendError(ctx: ApiContext, error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const area = request.routeOptions.config?.area;
  recordLivenessOfRefusedReport(ctx, error, area, request.machineId);
  const answer = errorAnswer(error, area) ?? unexpectedError(ctx, error, request.method, request.routeOptions.url);
  void reply.code(answer.status).send(answer.body);
}
