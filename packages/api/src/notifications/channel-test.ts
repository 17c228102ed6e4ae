import type { FastifyReply } from 'fastify';
import type { SendResult } from '@lunasentri/shared';

/**
 * The answer of a test endpoint: 200 when the channel accepted the message, otherwise 502 with the
 * channel's error (the notifier keeps secrets out of it) — the failure is the far side's, not ours.
 */
export function sendTestOutcome(reply: FastifyReply, area: string, result: SendResult): FastifyReply {
  if (result.kind === 'delivered') return reply.code(200).send({ ok: true, outcome: 'delivered', status: result.status ?? null });
  return reply.code(502).send({
    error: result.error,
    code: `${area}.test_failed`,
    ok: false,
    outcome: result.kind,
    status: result.status ?? null,
  });
}
