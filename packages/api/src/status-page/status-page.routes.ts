import type { StatusPage } from '@lunasentri/shared';
import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { findStatusPage, saveStatusPage, STATUS_PAGE_DEFAULT_TITLE, type StatusPageSettings } from './status-page.repository';

/** The longest title shown. */
export const STATUS_TITLE_MAX = 100;

const putBodySchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    enabled: { type: 'boolean' },
    title: { type: 'string', minLength: 1, maxLength: STATUS_TITLE_MAX, pattern: '\\S' },
    show_hostnames: { type: 'boolean' },
  },
} as const;

function statusPageView(page: StatusPage) {
  return { enabled: page.enabled === 1, title: page.title, show_hostnames: page.show_hostnames === 1, slug: page.slug, path: `/status/${page.slug}`, updated_at: page.updated_at };
}

/** `GET|PUT /status-page`: the caller's public status page settings. */
export function registerStatusPageRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const config = { area: 'status_page' };

  app.get('/status-page', async (request) => {
    const page = await findStatusPage(ctx.db, request.userId);
    // Never written: the defaults, and no address yet (the first PUT makes one).
    return page ? statusPageView(page) : { enabled: false, title: STATUS_PAGE_DEFAULT_TITLE, show_hostnames: false, slug: null, path: null, updated_at: null };
  });

  app.put('/status-page', { schema: { body: putBodySchema }, config }, async (request) => {
    const body = request.body as StatusPageSettings;
    const page = await saveStatusPage(ctx.db, request.userId, { ...body, title: body.title?.trim() }, ctx.clock.now());
    ctx.logger.info(`Status page ${page.enabled === 1 ? 'published' : 'not published'}`, { user_id: request.userId });
    return statusPageView(page);
  });
}
