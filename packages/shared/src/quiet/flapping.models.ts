import type { MachineStatus } from '../db/schema';
import { toMs, type Instant } from './instant';

/**
 * Flapping (CONTRACT §6.2) as pure decisions. A machine starts flapping when a status change brings
 * its count of offline↔online changes within the last window to the threshold; it stops when it has
 * kept one status for the settle time.
 *
 * Stored state per machine, and why it is enough: the decision at a change only asks "were at least
 * threshold − 1 earlier changes within the window?", which the most recent `threshold` change times
 * answer exactly. So {@link FlapState.recentChanges} keeps at most `threshold` timestamps (5 by
 * default) and drops the ones the window has left behind; settling reads the machine's existing
 * `status_changed_at`. No history table is needed and the row stays a few hundred bytes.
 */

/** The daemon's flapping settings (`--flap-threshold`, `--flap-window`, `--flap-settle`). */
export interface FlapSettings {
  /** Changes within the window that start flapping; `0` turns detection off. */
  threshold: number;
  windowMs: number;
  settleMs: number;
}

/** What is stored per machine (two columns: a nullable time and a JSON list). */
export interface FlapState {
  /** When the current flapping began (ISO), `null` when the machine is not flapping. */
  flappingSince: string | null;
  /** ISO times of the latest counted changes, oldest first, at most `threshold` of them. */
  recentChanges: string[];
}

/** A machine that has never flapped. */
export const NOT_FLAPPING: FlapState = { flappingSince: null, recentChanges: [] };

/** One status change as the daemon decides it. */
export interface StatusChange {
  from: MachineStatus;
  to: MachineStatus;
  at: Instant;
}

/** What a status change means for flapping, with the {@link FlapState} to store in every case. */
export type FlapDecision =
  /** Not an offline↔online change (a first report from `pending`): announce as usual, state unchanged. */
  | { kind: 'not-counted'; state: FlapState }
  /** Counted, below the threshold: announce the offline/online event as usual. */
  | { kind: 'announce'; state: FlapState }
  /**
   * This change starts flapping: one `machine.flapping` event instead of its offline/online event.
   * `transitions` is the count that reached the threshold (so the threshold itself: no more are kept).
   */
  | { kind: 'started-flapping'; state: FlapState; transitions: number; windowSeconds: number }
  /** Already flapping: record the change as a suppressed event, send nothing. */
  | { kind: 'suppressed'; state: FlapState };

const counts = (change: StatusChange): boolean =>
  (change.from === 'online' && change.to === 'offline') || (change.from === 'offline' && change.to === 'online');

/**
 * Decides what a status change means for flapping and returns the state to store with it (in the
 * transaction that writes the change). A change exactly one window after an earlier one still
 * counts that earlier one. A machine that settled keeps its recent changes, so if it changes again
 * while the window still holds `threshold` changes it is flapping again at once, not after another
 * `threshold − 1` alerts.
 */
export function recordStatusChange(state: FlapState, change: StatusChange, settings: FlapSettings): FlapDecision {
  if (!counts(change)) return { kind: 'not-counted', state };
  const atMs = toMs(change.at);
  const cutoff = atMs - settings.windowMs;
  const inWindow = state.recentChanges.filter((iso) => Date.parse(iso) >= cutoff);
  // Only `threshold` times are ever needed (see the top of this file); with detection off, none.
  const recentChanges = settings.threshold === 0 ? [] : [...inWindow, new Date(atMs).toISOString()].slice(-settings.threshold);
  if (state.flappingSince !== null) return { kind: 'suppressed', state: { ...state, recentChanges } };
  if (settings.threshold > 0 && recentChanges.length >= settings.threshold) {
    return {
      kind: 'started-flapping',
      state: { flappingSince: new Date(atMs).toISOString(), recentChanges },
      transitions: recentChanges.length,
      windowSeconds: Math.round(settings.windowMs / 1000),
    };
  }
  return { kind: 'announce', state: { flappingSince: null, recentChanges } };
}

/** Whether a machine that is flapping stops at a given moment. */
export type SettleDecision =
  | { kind: 'not-flapping' }
  | { kind: 'still-flapping'; settlesAt: Date }
  /** Kept `status` for the settle time: one `machine.flapping_ended` event, which announces that status. */
  | { kind: 'settled'; status: 'online' | 'offline'; state: FlapState };

/**
 * Whether a flapping machine has settled at `now`: it has kept its current `status` since
 * `statusChangedAt` for at least the settle time. Still applies after detection is turned off
 * (threshold 0), so no machine is left flapping forever.
 */
export function checkFlapSettled(
  state: FlapState,
  machine: { status: MachineStatus; statusChangedAt: Instant },
  now: Instant,
  settings: FlapSettings,
): SettleDecision {
  if (state.flappingSince === null || machine.status === 'pending') return { kind: 'not-flapping' };
  const settlesAtMs = toMs(machine.statusChangedAt) + settings.settleMs;
  if (toMs(now) < settlesAtMs) return { kind: 'still-flapping', settlesAt: new Date(settlesAtMs) };
  return { kind: 'settled', status: machine.status, state: { ...state, flappingSince: null } };
}
