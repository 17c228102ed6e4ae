import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../http/context';
import { notFound } from '../http/errors';
import { findPublishedPage } from '../status-page/status-page.repository';
import { freshness, machinesWithHistory, pageNumber } from './machine-listing';
import type { WebKit } from './web.plugin';

const SLUG = /^[A-Za-z0-9_-]{16,64}$/;

/**
 * `GET /status/<slug>` (no auth): the page's title and, for each enabled machine, its name, status
 * and 90 daily bars; its hostname only when the owner chose so. Nothing else of the account. A
 * disabled or unknown slug is a 404, the same for both, so a slug that was once published tells nothing.
 */
export function registerStatusPageView(web: FastifyInstance, ctx: ApiContext, kit: WebKit): void {
  web.get('/status/:slug', async (request, reply) => {
    const slug = (request.params as { slug: string }).slug;
    const page = SLUG.test(slug) ? await findPublishedPage(ctx.db, slug) : undefined;
    if (!page) throw notFound('status_page', 'status page');
    const pageNo = pageNumber(request.query);
    const now = ctx.clock.now();
    const [listing, fresh] = await Promise.all([machinesWithHistory(ctx, kit.history, { userId: page.user_id, enabledOnly: true, page: pageNo, path: `/status/${slug}` }, now), freshness(ctx, now)]);
    const rows = listing.rows.map((row) => ({
      name: row.name,
      hostname: page.show_hostnames === 1 ? row.hostname : null,
      // Without a recent check the stored statuses may be stale: say so rather than show them.
      status: fresh.checking ? row.status : 'unknown',
      bars: row.bars,
      barsSummary: row.barsSummary,
      uptime90: row.uptime[row.uptime.length - 1]!.value,
    }));
    reply.header('x-robots-tag', 'noindex');
    return kit.render(reply, 'status', { title: page.title, machines: rows, pager: listing.pager, ...fresh });
  });
}
