import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { errorCodes, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerEventRoutes } from '../events/events.routes';
import { registerHealthRoutes } from '../health/health.routes';
import { registerIngestRoutes } from '../ingest/ingest.routes';
import { registerMachineRoutes } from '../machines/machines.routes';
import { registerMaintenanceRoutes } from '../maintenance/maintenance.routes';
import type { ApiMetrics } from '../metrics/api.metrics';
import { PATTERN_MESSAGES } from '../machines/machines.schemas';
import { registerPreferenceRoutes } from '../notifications/preferences.routes';
import { registerTelegramRoutes } from '../notifications/telegram.routes';
import { registerWebhookRoutes } from '../notifications/webhooks.routes';
import { registerStatusPageRoutes } from '../status-page/status-page.routes';
import { registerUptimeRoutes } from '../uptime/uptime.routes';
import { registerWebRoutes } from '../web/web.plugin';
import { userTokenHook } from './auth';
import type { ApiContext } from './context';
import { ApiError, type ErrorBody } from './errors';
import { illFormedBodyError } from './well-formed';

/** CONTRACT §5: bodies over 64 KiB get 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** A request (headers and body) must arrive within this; a client trickling bytes cannot hold a socket, or a stop, open. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** The headers alone must arrive within this. */
export const HEADERS_TIMEOUT_MS = 10_000;

export interface ServerOptions {
  /** default {@link REQUEST_TIMEOUT_MS} */
  requestTimeoutMs?: number;
  /** with metrics on, every answer is timed and agent reports are counted; off, requests pay nothing */
  metrics?: ApiMetrics;
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
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, allowUnionTypes: true } },
    clientErrorHandler,
    frameworkErrors: (error, _request, reply) => {
      void (reply as FastifyReply).code(400).send(errorBody('request.bad_request', error.message));
    },
  });

  registerJsonParser(app);
  if (options.metrics) app.addHook('onResponse', options.metrics.onResponse);
  app.setErrorHandler((error: FastifyError, request, reply) => sendError(ctx, error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody('route.not_found', `no route for ${request.method} ${request.url.split('?')[0].slice(0, 200)}`));
  });

  registerHealthRoutes(app, ctx);
  registerIngestRoutes(app, ctx);
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
function registerJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    if (text === '') return done(null, undefined);
    parseJson(request, text, (error: Error | null, value?: unknown) => {
      if (error) return done(error);
      // Text that cannot be UTF-8 is refused before any route sees it, whatever the route stores.
      const illFormed = illFormedBodyError(text, value);
      if (illFormed) return done(illFormed);
      done(null, value);
    });
  });
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

export function errorBody(code: string, message: string): ErrorBody {
  return { error: message, code };
}

const FRAMEWORK_ERRORS: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'request.malformed_json', message: 'request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'request.malformed_json', message: 'request body is empty' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'request.body_too_large', message: `request body is larger than ${BODY_LIMIT_BYTES} bytes` },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'request.unsupported_media_type', message: 'request body must be application/json' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'request.bad_content_length', message: 'request body does not match its Content-Length' },
};

function sendError(ctx: ApiContext, error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  recordLivenessOfRefusedReport(ctx, error, request);
  if (error instanceof ApiError) {
    void reply.code(error.statusCode).send(errorBody(error.code, error.message));
    return;
  }
  if (error.validation) {
    const area = request.routeOptions.config?.area ?? 'request';
    void reply.code(400).send(errorBody(`${area}.invalid_payload`, validationMessage(error)));
    return;
  }
  const known = error.code ? FRAMEWORK_ERRORS[error.code] : undefined;
  if (known) {
    void reply.code(known.status).send(errorBody(known.code, known.message ?? error.message));
    return;
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    void reply.code(status).send(errorBody('request.bad_request', error.message));
    return;
  }
  ctx.logger.error('Request failed', { method: request.method, route: request.routeOptions.url, error: error.message, stack: error.stack });
  void reply.code(500).send(errorBody('internal.error', 'internal error'));
}

/**
 * A report refused for its body (schema, malformed JSON, size, media type) still came from a machine
 * whose key was checked at onRequest: its `last_seen` is recorded (no metrics row), because the Go
 * agent treats a 4xx as final and the machine would otherwise be declared offline over a body quirk.
 */
function recordLivenessOfRefusedReport(ctx: ApiContext, error: FastifyError, request: FastifyRequest): void {
  if (error instanceof ApiError || request.routeOptions.config?.area !== 'ingest' || typeof request.machineId !== 'number') return;
  const status = error.validation ? 400 : error.code ? FRAMEWORK_ERRORS[error.code]?.status : undefined;
  if (status === undefined || status >= 500) return;
  ctx.ingest.record({ machineId: request.machineId, receivedAtMs: ctx.clock.now().getTime() });
}

/** One readable sentence naming the field; ajv's own text for unknown fields does not name it. */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const part = error.validationContext ?? 'body';
  const where = first.instancePath === '' ? part : `${part}${first.instancePath.replace(/\//g, '.')}`;
  const params = first.params as Record<string, unknown>;
  if (first.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `${where} has an unknown field "${params.additionalProperty.slice(0, 64)}"`;
  }
  if (first.keyword === 'pattern' && typeof params.pattern === 'string' && PATTERN_MESSAGES[params.pattern]) {
    return `${where} ${PATTERN_MESSAGES[params.pattern]}`;
  }
  if (first.keyword === 'required' && typeof params.missingProperty === 'string') {
    return `${where} is missing the required field "${params.missingProperty}"`;
  }
  return `${where} ${first.message ?? 'is invalid'}`;
}
