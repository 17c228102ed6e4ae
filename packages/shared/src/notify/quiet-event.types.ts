/**
 * Payloads of the quiet-alert events (CONTRACT §6.2 flapping, §6.4 reminders). They share the §4.1
 * envelope (`event`, `event_id`, `occurred_at`, `machine`) and add their own fields after it.
 * Kept apart from `types.ts` so {@link MachineEventPayload} keeps meaning "a status transition"
 * for the code that already narrows it to offline/online.
 */

import type { MachineEventPayload, MachineSnapshot } from './types';

/** A reminder that an announced outage goes on (§6.4). Telegram: `⏰ <b>Still Offline</b>`. */
export interface MachineStillOfflinePayload {
  event: 'machine.still_offline';
  event_id: string;
  occurred_at: string;
  machine: MachineSnapshot;
  /** when the outage began (ISO-8601 UTC) */
  offline_since: string;
  /** whole seconds from `offline_since` to `occurred_at` */
  downtime_seconds: number;
  /** 1 for the first reminder of this outage, then 2, 3, … up to the owner's `remind_max` */
  reminder: number;
}

/** A machine started flapping (§6.2); `machine.status` is its status after the change. */
export interface MachineFlappingPayload {
  event: 'machine.flapping';
  event_id: string;
  occurred_at: string;
  machine: MachineSnapshot;
  /** status changes counted within the window, this one included */
  transitions: number;
  window_seconds: number;
}

/** A flapping machine kept one status for the settle time; `machine.status` is that status. */
export interface MachineFlappingEndedPayload {
  event: 'machine.flapping_ended';
  event_id: string;
  occurred_at: string;
  machine: MachineSnapshot;
}

export type QuietEventPayload = MachineStillOfflinePayload | MachineFlappingPayload | MachineFlappingEndedPayload;

/** Every machine event a channel can be told about: transitions (§4) and quiet alerts (§6). */
export type MachineNotificationPayload = MachineEventPayload | QuietEventPayload;

/** `machine.offline`, `machine.online`, `machine.still_offline`, `machine.flapping`, `machine.flapping_ended`. */
export type MachineNotificationType = MachineNotificationPayload['event'];
