import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashCredential } from '../credentials/credentials';
import type { ApiContext } from '../http/context';
import { closeSession, findSession, openSession } from '../dashboard/sessions.repository';
import { findTokenOwner } from '../users/users.repository';
import type { WebKit } from './web.plugin';

export const SESSION_COOKIE = 'lunasentri_session';

/** The signed-in user of a request, or undefined (no cookie, expired, signed out, token revoked). */
export async function sessionUser(ctx: ApiContext, request: FastifyRequest): Promise<number | undefined> {
  const secret = request.cookies[SESSION_COOKIE];
  if (!secret) return undefined;
  return (await findSession(ctx.db, secret, ctx.clock.now()))?.userId;
}

/** A fresh CSRF token for a form of this page (its secret rides in an HttpOnly, SameSite=Strict cookie). */
export function csrfToken(kit: WebKit, request: FastifyRequest, reply: FastifyReply): string {
  return reply.generateCsrf({ secure: kit.isHttps(request) });
}

export function renderLogin(kit: WebKit, request: FastifyRequest, reply: FastifyReply, error?: string): FastifyReply {
  return kit.render(reply, 'login', { title: 'LunaSentri — sign in', heading: 'LunaSentri', csrf: csrfToken(kit, request, reply), error }, error ? 401 : 200);
}

/** A form field's trimmed text, or undefined when absent. */
export function formField(body: unknown, name: string): string | undefined {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.trim() : undefined;
}

/** `POST /login` (a personal API token, form-encoded) and `POST /logout`; both CSRF-protected. */
export function registerSessionRoutes(web: FastifyInstance, ctx: ApiContext, kit: WebKit): void {
  web.post('/login', { preHandler: web.csrfProtection }, async (request, reply) => {
    const token = formField(request.body, 'token');
    if (!token) return renderLogin(kit, request, reply, 'Enter a personal API token.');
    const owner = await findTokenOwner(ctx.db, hashCredential(token));
    if (!owner) return renderLogin(kit, request, reply, 'Unknown or revoked API token.');
    // A sign-in over a live session replaces it: one cookie, one session.
    const previous = request.cookies[SESSION_COOKIE];
    if (previous) await closeSession(ctx.db, previous);
    const { secret, expiresAt } = await openSession(ctx.db, { userId: owner.userId, tokenId: owner.tokenId, now: ctx.clock.now() });
    ctx.logger.info('Dashboard sign-in', { user_id: owner.userId });
    return reply
      .setCookie(SESSION_COOKIE, secret, { path: '/', httpOnly: true, sameSite: 'strict', secure: kit.isHttps(request), expires: expiresAt })
      .redirect('/', 303);
  });

  web.post('/logout', { preHandler: web.csrfProtection }, async (request, reply) => {
    const secret = request.cookies[SESSION_COOKIE];
    if (secret) await closeSession(ctx.db, secret);
    return reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: kit.isHttps(request) }).redirect('/', 303);
  });
}
