import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiContext } from '../http/context';
import { ApiError } from '../http/errors';
import { registerDashboardRoutes } from './dashboard.routes';
import { HistoryMemo } from './history.memo';
import { registerSessionRoutes } from './session.routes';
import { registerSnoozeForms } from './snooze.forms';
import { registerStatusPageView } from './status.page';

/** Templates and the stylesheet, beside `src/` and `dist/` alike. */
const WEB_DIR = join(__dirname, '..', '..', 'web');

/**
 * Everything a page needs: a strict policy (no script at all, styles and images from this origin only,
 * forms posting here only, never framed), HTML rendered by Eta with every value escaped.
 */
export interface WebKit {
  render(reply: FastifyReply, view: string, data: Record<string, unknown>, status?: number): FastifyReply;
  /** whether the request reached us over HTTPS: TLS here, or a proxy saying `X-Forwarded-Proto: https` */
  isHttps(request: FastifyRequest): boolean;
  /** what the pages of machines derive from unchanged histories, kept between requests */
  history: HistoryMemo;
}

const CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

const STATIC_FILES: Record<string, string> = { 'dashboard.css': 'text/css; charset=utf-8', 'favicon.svg': 'image/svg+xml' };

/**
 * The HTML side of the API: the dashboard (`/`, `/login`, `/logout`, the snooze forms under
 * `/dashboard/`) and the public status pages
 * (`/status/<slug>`). Its plugins (cookies, form bodies, security headers, CSRF) are registered in
 * this scope only: the JSON API keeps refusing form bodies and sends no cookies.
 */
export function registerWebRoutes(app: FastifyInstance, ctx: ApiContext): void {
  void app.register(async (web) => {
    const eta = new Eta({ views: join(WEB_DIR, 'views'), autoEscape: true, cache: true });
    await web.register(fastifyHelmet, { contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES } });
    await web.register(fastifyCookie);
    await web.register(fastifyFormbody);
    await web.register(fastifyCsrf, { cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true } });

    const kit: WebKit = {
      history: new HistoryMemo(),
      render(reply, view, data, status = 200) {
        return reply.code(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(eta.render(view, data));
      },
      isHttps(request) {
        // Trusting the header can only make cookies stricter (Secure), never looser.
        return request.protocol === 'https' || String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]!.trim() === 'https';
      },
    };

    web.setErrorHandler((error: FastifyError, _request, reply) => {
      if (error.code === 'FST_CSRF_INVALID_TOKEN' || error.code === 'FST_CSRF_MISSING_SECRET') {
        return kit.render(reply, 'error', { title: 'Form expired', status: 403, message: 'This form has expired or did not come from this dashboard: go back, reload the page and try again.' }, 403);
      }
      // Every route of this scope answers HTML, forms included: a bad id or choice in a form is a page too.
      if (error instanceof ApiError) {
        return kit.render(reply, 'error', { title: error.statusCode === 404 ? 'Not found' : 'Bad request', status: error.statusCode, message: error.message }, error.statusCode);
      }
      // Anything else is answered as everywhere else in the API.
      throw error;
    });

    for (const [name, type] of Object.entries(STATIC_FILES)) {
      const body = readFileSync(join(WEB_DIR, 'static', name));
      web.get(`/static/${name}`, async (_request, reply) => reply.type(type).header('cache-control', 'public, max-age=3600').send(body));
    }
    registerSessionRoutes(web, ctx, kit);
    registerDashboardRoutes(web, ctx, kit);
    registerSnoozeForms(web, ctx);
    registerStatusPageView(web, ctx, kit);
  });
}
