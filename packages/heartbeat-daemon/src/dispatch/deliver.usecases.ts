import { errorMessage, type ChannelSender, type Clock, type Database, type Redactor, type SendResult } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { findChannelTarget, type ChannelState } from './channels.repository';
import type { ClaimedDelivery } from './deliveries.repository';
import type { Outcome } from './outcomes.usecases';

export interface DeliverDeps {
  db: Kysely<Database>;
  clock: Clock;
  sender: ChannelSender;
  /**
   * the process's redactor (the bot token), applied to an unexpected throw from a sender; webhook
   * secrets are not registered with it: the webhook sender scrubs its own target's secret from its
   * errors, and a throw is scrubbed of its target's secret here
   */
  redactor?: Redactor;
}

export interface Deliverer {
  /** Sends one claimed delivery and says what became of it; never rejects for a send failure. */
  deliver(d: ClaimedDelivery, signal: AbortSignal): Promise<Outcome>;
  /** A new claim batch: channel rows are read afresh (a webhook edited meanwhile is seen). */
  newBatch(): void;
}

/**
 * The deliver step: looks up the delivery's channel (once per claim batch: a burst to one webhook
 * reads it once), hands it to the channel sender, and turns the answer into an {@link Outcome}.
 */
export function createDeliverer(deps: DeliverDeps): Deliverer {
  let targets = new Map<string, Promise<ChannelState | undefined>>();

  function targetOf(d: ClaimedDelivery): Promise<ChannelState | undefined> {
    const key = `${d.channel}:${d.target_id}`;
    let target = targets.get(key);
    if (!target) {
      target = findChannelTarget(deps.db, d.channel, d.target_id);
      targets.set(key, target);
    }
    return target;
  }

  async function send(d: ClaimedDelivery, signal: AbortSignal): Promise<SendResult | 'target-missing' | 'target-inactive'> {
    const target = await targetOf(d);
    if (!target) return 'target-missing';
    if (!target.active) return 'target-inactive';
    return deps.sender.send(target, { eventId: d.event_id, payload: d.payload }, signal);
  }

  /** Senders report failures as results; a throw is unexpected, but the delivery must not be lost. */
  async function thrown(d: ClaimedDelivery, error: unknown): Promise<SendResult> {
    let text = `send failed: ${errorMessage(error)}`;
    const target = await targetOf(d).catch(() => undefined);
    if (target?.active && target.channel === 'webhook' && target.secret) text = text.split(target.secret).join('[redacted]');
    return { kind: 'retryable', error: deps.redactor ? deps.redactor.redact(text) : text };
  }

  return {
    async deliver(d, signal) {
      const result = await send(d, signal).catch((error: unknown) => thrown(d, error));
      const at = deps.clock.now();
      // Cut short by shutdown: not the receiver's fault, so no attempt is counted.
      if (signal.aborted && typeof result !== 'string' && result.kind !== 'delivered') return { kind: 'released', delivery: d, at };
      if (typeof result === 'string') return { kind: 'not-sent', delivery: d, reason: result, at };
      // A gone channel is deactivated when the outcome is recorded; the rest of this batch must not wait for that.
      if (result.kind === 'gone') targets.set(`${d.channel}:${d.target_id}`, Promise.resolve({ active: false }));
      return { kind: 'sent', delivery: d, result, at };
    },
    newBatch() {
      targets = new Map();
    },
  };
}
