import type { HandoffBatch, OutboxHandoff } from './outbox.types';

/** Opens a transaction's share of `handoff` at `now`; undefined when it takes nothing now. */
export function openHandoff(handoff: OutboxHandoff | undefined, now: Date): HandoffBatch | undefined {
  const limit = handoff?.room() ?? 0;
  if (!handoff || limit <= 0) return undefined;
  return { instanceId: handoff.instanceId, channels: handoff.channels, until: new Date(now.getTime() + handoff.leaseMs), limit, claimed: [] };
}

/** After the commit: hands the batch's rows over. (A transaction that failed hands nothing: its rows never existed.) */
export function closeHandoff(handoff: OutboxHandoff | undefined, batch: HandoffBatch | undefined): void {
  if (handoff && batch && batch.claimed.length > 0) handoff.take(batch.claimed, batch.until.getTime());
}
