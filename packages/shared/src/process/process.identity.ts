import { readFileSync, readlinkSync } from 'node:fs';

/**
 * What tells one process apart from every other, on Linux: the kernel's boot, the pid namespace and
 * the start time of the process with that pid. Two processes with the same pid (containers, both
 * pid 1) differ by pid namespace; a pid reused after a death differs by start time; a reboot changes
 * the boot id. Each field is null where it cannot be known (no /proc, another OS).
 */
export interface ProcessIdentity {
  /** `/proc/sys/kernel/random/boot_id` */
  bootId: string | null;
  /** the pid namespace, as `/proc/self/ns/pid` names it (`pid:[4026531836]`) */
  pidNamespace: string | null;
  /** the process's start, in clock ticks after boot (field 22 of `/proc/<pid>/stat`) */
  started: string | null;
}

const UNKNOWN: ProcessIdentity = { bootId: null, pidNamespace: null, started: null };

/** The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and parentheses). */
function statFields(pid: number | 'self'): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // no such process, or no /proc
  }
}

/**
 * This process's identity. Trusted only when `/proc/self` really is this process: a /proc mounted
 * from another pid namespace would describe someone else, and then nothing is known.
 */
export function currentProcessIdentity(): ProcessIdentity {
  try {
    const self = readFileSync('/proc/self/stat', 'utf8');
    if (Number(self.slice(0, self.indexOf(' '))) !== process.pid) return UNKNOWN;
    const fields = statFields('self');
    return {
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null,
      pidNamespace: readlinkSync('/proc/self/ns/pid'),
      started: fields?.[19] ?? null, // field 22 overall: fields here start at field 3
    };
  } catch {
    return UNKNOWN;
  }
}

/**
 * The start time of the running process with this pid in our pid namespace, or null when there is
 * none: no such pid, or only a zombie (it can no longer do anything).
 */
export function runningProcessStarted(pid: number): string | null {
  const fields = statFields(pid);
  if (!fields) return null;
  const state = fields[0];
  if (state === 'Z' || state === 'X' || state === 'x') return null;
  return fields[19] ?? null;
}
