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
