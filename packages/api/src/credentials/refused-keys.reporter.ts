import type { Clock, Logger } from '@lunasentri/shared';

/** Why an agent request was refused at the key check. */
export type KeyRefusal = 'missing_key' | 'invalid_key' | 'personal_token';

/** At most one summary line per this long: a scanner or a fleet with a stale key must not flood the log. */
export const REFUSED_KEYS_LOG_EVERY_MS = 60_000;

/**
 * Refused agent keys, logged at a bounded rate. The first refusal after a quiet minute is logged at
 * once; later ones are counted and summed up in the next line, written by the first refusal a full
 * interval after the previous line (or by {@link flush} on stop). Never the key: only counts, the
 * time counting began and the last caller's address.
 */
export class RefusedKeysReporter {
  private counts: Record<KeyRefusal, number> = { missing_key: 0, invalid_key: 0, personal_token: 0 };
  private sinceMs: number | undefined;
  private lastLineMs: number | undefined;
  private lastIp = '';

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly everyMs: number = REFUSED_KEYS_LOG_EVERY_MS,
  ) {}

  note(reason: KeyRefusal, ip: string): void {
    const now = this.clock.now().getTime();
    this.counts[reason]++;
    this.sinceMs ??= now;
    this.lastIp = ip;
    // A clock set back must not silence the log for as long as it moved.
    if (this.lastLineMs === undefined || now - this.lastLineMs >= this.everyMs || now < this.lastLineMs) this.write(now);
  }

  /** Writes what was counted since the last line, if anything. */
  flush(): void {
    if (this.sinceMs !== undefined) this.write(this.clock.now().getTime());
  }

  private write(now: number): void {
    const counts = this.counts;
    const total = counts.missing_key + counts.invalid_key + counts.personal_token;
    this.logger.warn(`Refused ${total} agent request${total === 1 ? '' : 's'} without a valid machine API key`, {
      ...counts,
      since: new Date(this.sinceMs ?? now).toISOString(),
      last_ip: this.lastIp,
    });
    this.counts = { missing_key: 0, invalid_key: 0, personal_token: 0 };
    this.sinceMs = undefined;
    this.lastLineMs = now;
  }
}
