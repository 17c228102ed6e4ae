import type { ClaimHolder } from './deliveries.repository';

export interface Host {
  hostname: string;
  pid: number;
  /** whether a process with this pid exists on this host */
  pidAlive(pid: number): boolean;
}

/**
 * Whether a claim holder is certainly gone, so its claims can be taken over before their lease ends
 * (a daemon killed mid-send and restarted would otherwise wait out the lease). Only certainty counts:
 * a graceful stop, or a process on this host whose pid no longer exists AND whose liveness beat is
 * older than `staleMs`. A pid alone proves nothing: two daemons in separate pid namespaces on one host
 * (containers with host networking: both pid 1, same hostname) see each other's pid as their own, or
 * as gone. Anything else keeps the lease.
 */
export function isClaimHolderGone(holder: ClaimHolder, host: Host, now: Date, staleMs: number): boolean {
  if (holder.stopped_at !== null) return true;
  if (holder.pid === null || holder.hostname !== host.hostname || holder.heartbeat_at === null) return false;
  const stale = now.getTime() - Date.parse(holder.heartbeat_at) > staleMs;
  // Our own pid counts as "alive": if it is a previous incarnation, its beat goes stale soon enough.
  return stale && holder.pid !== host.pid && !host.pidAlive(holder.pid);
}

/** How old a holder's liveness beat must be before it can count as gone: its beat follows its checks. */
export function holderStaleMs(intervalMs: number): number {
  return Math.max(2 * intervalMs, 10_000);
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
