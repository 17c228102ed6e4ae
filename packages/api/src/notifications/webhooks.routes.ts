import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildTestPayload, checkNewWebhookSecret, isUniqueViolation, checkWebhookUrl, generateWebhookSecret, serializePayload, type Webhook } from '@lunasentri/shared';
import type { ApiContext } from '../http/context';
import { ApiError, notFound } from '../http/errors';
import { pathId } from '../http/params';
import { sendTestOutcome } from './channel-test';
import { deleteWebhook, findWebhook, insertWebhook, listWebhooks, updateWebhook } from './webhooks.repository';

const URL_MAX = 2048;
const SECRET_MAX = 1024;
const properties = {
  url: { type: 'string', minLength: 1, maxLength: URL_MAX },
  secret: { type: 'string', minLength: 1, maxLength: SECRET_MAX },
  is_active: { type: 'boolean' },
} as const;

const createSchema = { type: 'object', additionalProperties: false, required: ['url'], properties } as const;
const updateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties } as const;

interface WebhookBody {
  url?: string;
  secret?: string;
  is_active?: boolean;
}

const config = { area: 'webhook' };
const webhookId = (params: unknown) => pathId(params, 'webhook', 'webhook');
const duplicateUrl = () => new ApiError(409, 'webhook.duplicate_url', 'a webhook with this URL already exists');

/**
 * The form a webhook URL is stored and compared in, so the duplicate check (a UNIQUE index on
 * `(user_id, url)`) sees through spelling: the WHATWG parser lowercases scheme and host, drops the
 * default port and strips tabs and newlines; the fragment (never sent) and an empty `?` go too.
 */
export function normalizeWebhookUrl(url: string): string {
  const parsed = new URL(url);
  parsed.hash = '';
  if (parsed.search === '') parsed.search = '';
  return parsed.href;
}

/** Never includes the secret: it is shown once, by the create call. */
function webhookView(w: Webhook) {
  return {
    id: w.id,
    url: w.url,
    is_active: w.is_active === 1,
    created_at: w.created_at,
    updated_at: w.updated_at,
    last_success_at: w.last_success_at,
    last_error_at: w.last_error_at,
    last_error: w.last_error,
    failure_count: w.failure_count,
  };
}

export function registerWebhookRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const checkUrl = async (url: string): Promise<string> => {
    const check = await checkWebhookUrl(url.trim(), ctx.webhookPolicy);
    if (!check.ok) throw new ApiError(400, check.code, check.error);
    return normalizeWebhookUrl(url.trim());
  };
  const checkSecret = (secret: string): string => {
    const check = checkNewWebhookSecret(secret);
    if (!check.ok) throw new ApiError(400, check.code, check.error);
    return secret;
  };

  app.get('/notifications/webhooks', async (request) => (await listWebhooks(ctx.db, request.userId)).map(webhookView));

  app.post('/notifications/webhooks', { schema: { body: createSchema }, config }, async (request, reply) => {
    const body = request.body as WebhookBody;
    const url = await checkUrl(body.url as string);
    const secret = body.secret === undefined ? generateWebhookSecret() : checkSecret(body.secret);
    try {
      const webhook = await insertWebhook(ctx.db, ctx.clock, request.userId, { url, secret, isActive: body.is_active ?? true });
      return await reply.code(201).send({ ...webhookView(webhook), secret });
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateUrl();
      throw error;
    }
  });

  app.put('/notifications/webhooks/:id', { schema: { body: updateSchema }, config }, async (request) => {
    const id = webhookId(request.params);
    const body = request.body as WebhookBody;
    if (!(await findWebhook(ctx.db, request.userId, id))) throw notFound('webhook');
    const url = body.url === undefined ? undefined : await checkUrl(body.url);
    const secret = body.secret === undefined ? undefined : checkSecret(body.secret);
    try {
      const webhook = await updateWebhook(ctx.db, ctx.clock, request.userId, id, { url, secret, isActive: body.is_active });
      if (!webhook) throw notFound('webhook');
      return webhookView(webhook);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateUrl();
      throw error;
    }
  });

  app.delete('/notifications/webhooks/:id', async (request, reply) => {
    if (!(await deleteWebhook(ctx.db, request.userId, webhookId(request.params)))) throw notFound('webhook');
    return reply.code(204).send();
  });

  app.post('/notifications/webhooks/:id/test', async (request, reply) => {
    const webhook = await findWebhook(ctx.db, request.userId, webhookId(request.params));
    if (!webhook) throw notFound('webhook');
    const eventId = randomUUID();
    const body = serializePayload(buildTestPayload({ eventId, occurredAt: ctx.clock.now() }));
    const result = await ctx.notifier.webhook.send({ url: webhook.url, secret: webhook.secret }, eventId, body);
    return sendTestOutcome(reply, 'webhook', result);
  });
}
