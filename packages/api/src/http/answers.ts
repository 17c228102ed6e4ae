import type { FastifyError } from 'fastify';
import { PATTERN_MESSAGES } from '../machines/machines.schemas';
import type { ApiContext } from './context';
import { ApiError, type ErrorBody } from './errors';

/** CONTRACT §5: bodies over 64 KiB get 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** Strict validation: no type coercion, unknown fields rejected (where a schema says so) rather than silently dropped. */
export const AJV_OPTIONS = { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, allowUnionTypes: true } as const;

/** A JSON body's text → its value, or the error to answer with; '' is no body (undefined). */
export type JsonBodyParser = (text: string, done: (error: Error | null, value?: unknown) => void) => void;

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

export interface ErrorAnswer {
  status: number;
  body: ErrorBody;
}

/**
 * The client's answer to a failed request: a public {@link ApiError}, a schema violation (400
 * `<area>.invalid_payload` naming the field), a framework refusal (bad JSON, size, media type) or
 * another 4xx. Undefined for an unexpected failure: see {@link unexpectedError}.
 */
export function errorAnswer(error: FastifyError, area: string | undefined): ErrorAnswer | undefined {
  if (error instanceof ApiError) return { status: error.statusCode, body: errorBody(error.code, error.message) };
  if (error.validation) return { status: 400, body: errorBody(`${area ?? 'request'}.invalid_payload`, validationMessage(error)) };
  const known = error.code ? FRAMEWORK_ERRORS[error.code] : undefined;
  if (known) return { status: known.status, body: errorBody(known.code, known.message ?? error.message) };
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, body: errorBody('request.bad_request', error.message) };
  return undefined;
}

/** An unexpected failure: logged with its stack, answered with a 500 that tells the client nothing more. */
export function unexpectedError(ctx: ApiContext, error: Error, method: string, route: string | undefined): ErrorAnswer {
  ctx.logger.error('Request failed', { method, route, error: error.message, stack: error.stack });
  return { status: 500, body: errorBody('internal.error', 'internal error') };
}

/**
 * A report refused for its body (schema, malformed JSON, size, media type) still came from a machine
 * whose key was checked first: its `last_seen` is recorded (no metrics row), because the Go agent
 * treats a 4xx as final and the machine would otherwise be declared offline over a body quirk.
 */
export function recordLivenessOfRefusedReport(ctx: ApiContext, error: FastifyError, area: string | undefined, machineId: number | undefined): void {
  if (error instanceof ApiError || area !== 'ingest' || typeof machineId !== 'number') return;
  const status = error.validation ? 400 : error.code ? FRAMEWORK_ERRORS[error.code]?.status : undefined;
  if (status === undefined || status >= 500) return;
  ctx.ingest.record({ machineId, receivedAtMs: ctx.clock.now().getTime() });
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
