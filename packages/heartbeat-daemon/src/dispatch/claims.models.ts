import type { ProcessIdentity } from '@lunasentri/shared';
import type { ClaimHolder } from './deliveries.repository';

/** This process, as the takeover rule needs it. */
export interface Host {
  hostname: string;
  pid: number;
  /** our boot, pid namespace and start time (null fields where /proc cannot say) */
  identity: ProcessIdentity;
  /** the start time of the running process with this pid in our pid namespace, null when none runs */
  runningProcessStarted(pid: number): string | null;
  /** whether a process with this pid exists on this host (for holders that recorded no identity) */
  pidAlive(pid: number): boolean;
}

/** A holder that recorded no beat period is judged by ours: at least this long without a beat. */
export const HOLDER_STALE_FLOOR_MS = 10_000;

/**
 * How old a holder's liveness beat must be before it can count as gone, for holders that recorded no
 * identity: two of its beat periods, and never less than 10 s (a live daemon waiting out the
 * database's 10 s busy timeout does not beat meanwhile).
 */
export function holderStaleMs(beatEveryMs: number): number {
  return Math.max(2 * beatEveryMs, HOLDER_STALE_FLOOR_MS);
}

/**
 * Whether a claim holder is certainly gone, so its claims can be taken over before their lease ends
 * (a daemon killed mid-send and restarted would otherwise wait out the lease). Only certainty counts:
 *
 * - a graceful stop;
 * - a holder that ran on this boot in our pid namespace: gone once no running process has its pid
 *   with its start time (its pid is free, reused by another process, or a zombie). No waiting: a
 *   dead process sends nothing, and within one pid namespace a pid with its start time names one
 *   process only;
 * - any other pid namespace or boot (containers on one host, both pid 1; another host with our
 *   hostname): its pid means nothing here, so its claims are left to their lease — two daemons
 *   never send the same delivery at once;
 * - a holder that recorded no identity (an older version, no /proc): this host's name, a pid that is
 *   not ours and no longer exists, AND a beat older than {@link holderStaleMs} of its own beat period
 *   (`fallbackStaleMs` when it recorded none).
 */
export function isClaimHolderGone(holder: ClaimHolder, host: Host, now: Date, fallbackStaleMs: number): boolean {
  if (holder.stopped_at !== null) return true;
  if (holder.pid === null || holder.heartbeat_at === null) return false;
  if (holder.boot_id !== null && holder.pid_namespace !== null && holder.process_started !== null) {
    const ours = host.identity;
    if (holder.boot_id !== ours.bootId || holder.pid_namespace !== ours.pidNamespace) return false;
    return host.runningProcessStarted(holder.pid) !== holder.process_started;
  }
  if (holder.hostname !== host.hostname) return false;
  const staleMs = holder.beat_every_ms !== null ? holderStaleMs(holder.beat_every_ms) : fallbackStaleMs;
  const stale = now.getTime() - Date.parse(holder.heartbeat_at) > staleMs;
  // Our own pid counts as "alive": if it is a previous incarnation, its beat goes stale soon enough.
  return stale && holder.pid !== host.pid && !host.pidAlive(holder.pid);
}

/** `kill(pid, 0)`: ESRCH means no such process; EPERM means it exists under another user. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a claimed delivery may still be sent. Claimed rows wait in a queue for a free send slot;
 * a send must end well before the claim does, or another daemon could take the row over and send it
 * at the same time. The lease is at least twice any send's time limit, so half of it must remain.
 */
export function claimLeftToSend(claimedUntilMs: number, nowMs: number, leaseMs: number): boolean {
  return claimedUntilMs - nowMs >= leaseMs / 2;
}
