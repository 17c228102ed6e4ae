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
 * a graceful stop, or a process on this host that no longer exists (or whose pid we now have — a
 * container restarts its daemon under the same pid). Anything else keeps the lease.
 */
export function isClaimHolderGone(holder: ClaimHolder, host: Host): boolean {
  if (holder.stopped_at !== null) return true;
  if (holder.pid === null || holder.hostname !== host.hostname) return false;
  if (holder.pid === host.pid) return true;
  return !host.pidAlive(holder.pid);
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
