import type { ChannelKind } from '@lunasentri/shared';

/** What one recorded send says about its channel (webhook or Telegram chat). */
export type ChannelOutcome =
  | { channel: ChannelKind; targetId: number; success: true; at: Date }
  | { channel: ChannelKind; targetId: number; success: false; error: string; deactivate: boolean; at: Date };

/**
 * The channel bookkeeping for a batch of send outcomes (pure). Outcomes are kept in order, except
 * that a run of successes on one channel is folded into one update (the latest): a burst to one
 * webhook writes `last_success_at` once per batch, not once per delivery. A failure between two
 * successes stays where it was, so the rows end exactly as recording every outcome one by one would
 * leave them (`last_success_at`, `failure_count` reset by a success and counted up by failures,
 * `last_error`, deactivation).
 */
export function planChannelUpdates(outcomes: readonly ChannelOutcome[]): ChannelOutcome[] {
  const plan: ChannelOutcome[] = [];
  const successes = new Map<string, ChannelOutcome>();
  for (const outcome of outcomes) {
    const key = `${outcome.channel}:${outcome.targetId}`;
    if (outcome.success) {
      successes.delete(key); // re-inserted: the latest success, and the latest position
      successes.set(key, outcome);
      continue;
    }
    const earlier = successes.get(key);
    if (earlier) {
      plan.push(earlier);
      successes.delete(key);
    }
    plan.push(outcome);
  }
  plan.push(...successes.values());
  return plan;
}
