import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { nowMs, type MachineKeyLookup, type MachineKeyOwner } from '@lunasentri/shared';
import { hashCredential } from '../credentials/credentials';
import type { RefusedKeysReporter } from '../credentials/refused-keys.reporter';
import { findTokenOwner, touchToken } from '../users/users.repository';
import type { ApiContext } from './context';
import { ApiError } from './errors';

/** `last_used_at` is a hint for humans: refreshing it at most once a minute keeps reads read-only. */
const TOKEN_TOUCH_EVERY_MS = 60_000;

function bearer(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 8) return undefined;
  if (header.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const value = header.slice(7).trim();
  return value === '' ? undefined : value;
}

/** A machine key from `Authorization: Bearer <key>` or `X-API-Key: <key>` (the agent uses the first). */
function machineKey(headers: IncomingHttpHeaders): string | undefined {
  const fromBearer = bearer(headers.authorization);
  if (fromBearer !== undefined) return fromBearer;
  const header = headers['x-api-key'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  return value === '' ? undefined : value;
}

const missingKey = () => new ApiError(401, 'auth.missing_key', 'machine API key required (Authorization: Bearer <key> or X-API-Key)');
const invalidKey = () => new ApiError(401, 'auth.invalid_key', 'unknown or revoked machine API key');
const disabledMachine = () => new ApiError(403, 'machine.disabled', 'machine is disabled');
const tokenOnAgentRoute = () =>
  new ApiError(401, 'auth.invalid_key', "this is a personal API token; agent routes need the machine's API key (Authorization: Bearer lsk_… or X-API-Key)");
const missingToken = () => new ApiError(401, 'auth.missing_token', 'API token required (Authorization: Bearer <token>)');
const invalidToken = () => new ApiError(401, 'auth.invalid_token', 'unknown or revoked API token');
const keyOnUserRoute = () => new ApiError(401, 'auth.invalid_token', 'this is a machine API key; user routes need a personal API token (Authorization: Bearer lst_…)');

/**
 * The refusal of a credential that is not a live machine key. Only on this failure path, never for a
 * valid key: one more indexed read tells a user who pasted their personal token into an agent config
 * what is wrong. The hint is best effort; if the read fails, the plain refusal stands.
 */
function refuseUnknownKey(ctx: ApiContext, refused: RefusedKeysReporter, ip: string, hash: string, done: MachineKeyDone): void {
  findTokenOwner(ctx.db, hash).then(
    (owner) => {
      refused.note(owner ? 'personal_token' : 'invalid_key', ip);
      done(owner ? tokenOnAgentRoute() : invalidKey());
    },
    (error: unknown) => {
      ctx.logger.debug('Could not check a refused machine key against the API tokens', { error: error instanceof Error ? error.message : String(error) });
      refused.note('invalid_key', ip);
      done(invalidKey());
    },
  );
}

/** The outcome of a machine-key check: an error (401/403 as an {@link ApiError}, or a database failure), or the machine. */
export type MachineKeyDone = (error: Error | null, machineId?: number) => void;

/**
 * The ingest hot path's gate, synchronous: a cached key answers from memory (`done` is called before
 * this returns); a miss costs one indexed read through a prepared statement. Refusals are counted for
 * the rate-bounded log line. Both agent paths call it: Fastify's hook and the ingest fast path.
 */
export function checkMachineKey(ctx: ApiContext, refused: RefusedKeysReporter, headers: IncomingHttpHeaders, socket: Socket, nowMs: number, done: MachineKeyDone): void {
  const key = machineKey(headers);
  if (key === undefined) {
    refused.note('missing_key', socket.remoteAddress ?? '');
    return done(missingKey());
  }
  const cached = ctx.keyCache.get(key, nowMs);
  if (cached) return cached.enabled ? done(null, cached.machineId) : done(disabledMachine());
  const hash = hashCredential(key);
  const admit = (found: MachineKeyOwner | undefined): void => {
    if (!found) return refuseUnknownKey(ctx, refused, socket.remoteAddress ?? '', hash, done);
    const enabled = found.isEnabled === 1;
    ctx.keyCache.set(key, { machineId: found.machineId, enabled });
    if (enabled) done(null, found.machineId);
    else done(disabledMachine());
  };
  let found: ReturnType<MachineKeyLookup['find']>;
  try {
    found = ctx.keyLookup.find(hash);
  } catch (error) {
    return done(error as Error);
  }
  // SQLite answers at once; a networked database answers later.
  if (found instanceof Promise) found.then(admit, (error: Error) => done(error));
  else admit(found);
}

/** {@link checkMachineKey} as an onRequest hook: a request without a valid key is refused before its body is parsed. */
export function machineKeyHook(ctx: ApiContext, refused: RefusedKeysReporter) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    checkMachineKey(ctx, refused, request.headers, request.raw.socket, nowMs(ctx.clock), (error, machineId) => {
      if (error) return done(error);
      request.machineId = machineId!;
      done();
    });
  };
}

/** Personal API tokens, looked up on every request (revocation takes effect at once). */
export function userTokenHook(ctx: ApiContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const token = bearer(request.headers.authorization);
    if (token === undefined) throw missingToken();
    const hash = hashCredential(token);
    const owner = await findTokenOwner(ctx.db, hash);
    // Only on the failure path: was it a machine key sent to a user route?
    if (!owner) throw (await ctx.keyLookup.find(hash)) ? keyOnUserRoute() : invalidToken();
    request.userId = owner.userId;
    const now = ctx.clock.now();
    if (owner.lastUsedAt === null || now.getTime() - Date.parse(owner.lastUsedAt) >= TOKEN_TOUCH_EVERY_MS) {
      // A hint only: on the short-timeout connection, so a lock held elsewhere skips it instead of stalling the request.
      await touchToken(ctx.backgroundDb, owner.tokenId, now.toISOString()).catch((error: unknown) => {
        ctx.logger.debug('Could not record token use', { error: error instanceof Error ? error.message : String(error) });
      });
    }
  };
}
