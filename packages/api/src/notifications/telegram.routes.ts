import type { FastifyInstance } from 'fastify';
import { isUniqueViolation, renderTelegramTestMessage, type TelegramRecipient } from '@lunasentri/shared';
import type { ApiContext } from '../http/context';
import { ApiError, notFound } from '../http/errors';
import { pathId } from '../http/params';
import { sendTestOutcome } from './channel-test';
import {
  deleteTelegramRecipient,
  findTelegramRecipient,
  insertTelegramRecipient,
  listTelegramRecipients,
  updateTelegramRecipient,
} from './telegram.repository';

const properties = {
  // Telegram chat ids fit in 52 bits; groups and channels are negative. 0 names no chat.
  chat_id: { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
  is_active: { type: 'boolean' },
} as const;

const createSchema = { type: 'object', additionalProperties: false, required: ['chat_id'], properties } as const;
const updateSchema = { type: 'object', additionalProperties: false, minProperties: 1, properties } as const;

interface TelegramBody {
  chat_id?: number;
  is_active?: boolean;
}

const config = { area: 'telegram' };
const recipientId = (params: unknown) => pathId(params, 'telegram', 'telegram recipient');
const checkChatId = (chatId: number | undefined): void => {
  if (chatId === 0) throw new ApiError(400, 'telegram.invalid_payload', 'chat_id must not be 0');
};
const duplicateChat = () => new ApiError(409, 'telegram.duplicate_chat', 'this chat is already a recipient');

function recipientView(r: TelegramRecipient) {
  return {
    id: r.id,
    chat_id: r.chat_id,
    is_active: r.is_active === 1,
    created_at: r.created_at,
    updated_at: r.updated_at,
    last_success_at: r.last_success_at,
    last_error_at: r.last_error_at,
    last_error: r.last_error,
  };
}

export function registerTelegramRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/notifications/telegram', async (request) => (await listTelegramRecipients(ctx.db, request.userId)).map(recipientView));

  app.post('/notifications/telegram', { schema: { body: createSchema }, config }, async (request, reply) => {
    const body = request.body as TelegramBody;
    checkChatId(body.chat_id);
    try {
      const recipient = await insertTelegramRecipient(ctx.db, ctx.clock, request.userId, { chatId: body.chat_id as number, isActive: body.is_active ?? true });
      return await reply.code(201).send(recipientView(recipient));
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateChat();
      throw error;
    }
  });

  app.put('/notifications/telegram/:id', { schema: { body: updateSchema }, config }, async (request) => {
    const body = request.body as TelegramBody;
    checkChatId(body.chat_id);
    try {
      const recipient = await updateTelegramRecipient(ctx.db, ctx.clock, request.userId, recipientId(request.params), {
        chatId: body.chat_id,
        isActive: body.is_active,
      });
      if (!recipient) throw notFound('telegram', 'telegram recipient');
      return recipientView(recipient);
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateChat();
      throw error;
    }
  });

  app.delete('/notifications/telegram/:id', async (request, reply) => {
    if (!(await deleteTelegramRecipient(ctx.db, request.userId, recipientId(request.params)))) throw notFound('telegram', 'telegram recipient');
    return reply.code(204).send();
  });

  app.post('/notifications/telegram/:id/test', async (request, reply) => {
    const recipient = await findTelegramRecipient(ctx.db, request.userId, recipientId(request.params));
    if (!recipient) throw notFound('telegram', 'telegram recipient');
    if (!ctx.notifier.telegram) {
      throw new ApiError(503, 'telegram.not_configured', 'Telegram is off on this server: TELEGRAM_BOT_TOKEN is not set');
    }
    const result = await ctx.notifier.telegram.sendMessage(recipient.chat_id, renderTelegramTestMessage());
    return sendTestOutcome(reply, 'telegram', result);
  });
}
