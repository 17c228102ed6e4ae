import { errorMessage, type ChannelSender, type Clock, type Database, type Redactor, type SendResult } from '@lunasentri/shared';
import type { Kysely } from 'kysely';
import { findChannelTarget, type ChannelState } from './channels.repository';
import type { ClaimedDelivery } from './deliveries.repository';
import type { ClaimedDigest } from './digests.repository';
import type { DigestRef, Outcome } from './outcomes.usecases';

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
  /** Sends one Telegram message for all the deliveries of a digest; one outcome per delivery, all alike. */
  deliverDigest(digest: ClaimedDigest, signal: AbortSignal): Promise<Outcome[]>;
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

  /** What a send's answer makes of one delivery. */
  function outcomeOf(d: ClaimedDelivery, result: SendResult | 'target-missing' | 'target-inactive', signal: AbortSignal, at: Date, digest?: DigestRef): Outcome {
    const of = digest ? { digest } : {};
    // Cut short by shutdown: not the receiver's fault, so no attempt is counted.
    if (signal.aborted && typeof result !== 'string' && result.kind !== 'delivered') return { kind: 'released', delivery: d, at, ...of };
    if (typeof result === 'string') return { kind: 'not-sent', delivery: d, reason: result, at, ...of };
    // A gone channel is deactivated when the outcome is recorded; the rest of this batch must not wait for that.
    if (result.kind === 'gone') targets.set(`${d.channel}:${d.target_id}`, Promise.resolve({ active: false }));
    return { kind: 'sent', delivery: d, result, at, ...of };
  }

  async function sendDigest(digest: ClaimedDigest, signal: AbortSignal): Promise<SendResult | 'target-missing' | 'target-inactive'> {
    const target = await targetOf(digest.rows[0]!);
    if (!target) return 'target-missing';
    if (!target.active || target.channel !== 'telegram' || digest.digestId === null) return 'target-inactive';
    return deps.sender.sendTelegramText(target, digest.text, signal);
  }

  return {
    async deliver(d, signal) {
      const result = await send(d, signal).catch((error: unknown) => thrown(d, error));
      return outcomeOf(d, result, signal, deps.clock.now());
    },
    async deliverDigest(digest, signal) {
      const result = await sendDigest(digest, signal).catch((error: unknown) => thrown(digest.rows[0]!, error));
      const at = deps.clock.now();
      const ref = { id: digest.digestId, size: digest.rows.length };
      return digest.rows.map((d, i) => outcomeOf(d, result, signal, at, { ...ref, lead: i === 0 }));
    },
    newBatch() {
      targets = new Map();
    },
  };
}
