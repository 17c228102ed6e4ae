import type { MachineFlappingEndedPayload, MachineFlappingPayload, MachineNotificationPayload, MachineStillOfflinePayload } from './quiet-event.types';
import type { MachineOfflinePayload, MachineOnlinePayload, MachineSnapshot, TestPayload } from './types';

/** A time as a `Date` or as text `new Date()` understands; stored as ISO-8601 UTC with ms. */
export type TimeInput = Date | string | number;

function iso(time: TimeInput, field: string): string {
  const date = time instanceof Date ? time : new Date(time);
  if (Number.isNaN(date.getTime())) throw new RangeError(`${field}: invalid time ${String(time)}`);
  return date.toISOString();
}

/** A fresh snapshot with keys in contract order, so consumers diffing raw bodies see a stable shape. */
function snapshot(machine: MachineSnapshot, status: MachineSnapshot['status']): MachineSnapshot {
  return {
    id: machine.id,
    name: machine.name,
    hostname: machine.hostname ?? null,
    description: machine.description ?? null,
    status,
    last_seen: machine.last_seen === null || machine.last_seen === undefined ? null : iso(machine.last_seen, 'machine.last_seen'),
  };
}

/**
 * The `machine.offline` body of CONTRACT §4.1. `machine.status` is set to `offline` whatever the
 * row said, because the payload describes the transition, not a later read.
 */
export function buildOfflinePayload(input: { eventId: string; occurredAt: TimeInput; machine: MachineSnapshot }): MachineOfflinePayload {
  return {
    event: 'machine.offline',
    event_id: input.eventId,
    occurred_at: iso(input.occurredAt, 'occurredAt'),
    machine: snapshot(input.machine, 'offline'),
  };
}

/** Whole seconds from `from` to `to`, never negative, rounded down. */
const wholeSecondsBetween = (from: string, to: string): number => Math.max(0, Math.floor((Date.parse(to) - Date.parse(from)) / 1000));

/**
 * The `machine.online` body: `offline_since` is when the outage began and `downtime_seconds` the
 * whole seconds from then to `occurredAt` (never negative, rounded down).
 */
export function buildOnlinePayload(input: { eventId: string; occurredAt: TimeInput; machine: MachineSnapshot; offlineSince: TimeInput }): MachineOnlinePayload {
  return { event: 'machine.online', ...outageFields(input, 'online') };
}

/** What the bodies about a running or ended outage share: the event, the machine, when it began and how long it lasted. */
function outageFields(input: { eventId: string; occurredAt: TimeInput; machine: MachineSnapshot; offlineSince: TimeInput }, status: 'online' | 'offline') {
  const occurredAt = iso(input.occurredAt, 'occurredAt');
  const offlineSince = iso(input.offlineSince, 'offlineSince');
  return {
    event_id: input.eventId,
    occurred_at: occurredAt,
    machine: snapshot(input.machine, status),
    offline_since: offlineSince,
    downtime_seconds: wholeSecondsBetween(offlineSince, occurredAt),
  };
}

/**
 * The `machine.still_offline` body of CONTRACT §6.4: a reminder that an announced outage goes on.
 * `machine.status` is `offline`; `downtime_seconds` counts from `offlineSince` to `occurredAt`.
 */
export function buildStillOfflinePayload(input: {
  eventId: string;
  occurredAt: TimeInput;
  machine: MachineSnapshot;
  offlineSince: TimeInput;
  reminder: number;
}): MachineStillOfflinePayload {
  return { event: 'machine.still_offline', ...outageFields(input, 'offline'), reminder: input.reminder };
}

/** The `machine.flapping` body of CONTRACT §6.2; `machine.status` is the status the change led to. */
export function buildFlappingPayload(input: {
  eventId: string;
  occurredAt: TimeInput;
  machine: MachineSnapshot;
  transitions: number;
  windowSeconds: number;
}): MachineFlappingPayload {
  return {
    event: 'machine.flapping',
    event_id: input.eventId,
    occurred_at: iso(input.occurredAt, 'occurredAt'),
    machine: snapshot(input.machine, input.machine.status),
    transitions: input.transitions,
    window_seconds: input.windowSeconds,
  };
}

/** The `machine.flapping_ended` body of CONTRACT §6.2; `machine.status` is the status the machine settled in. */
export function buildFlappingEndedPayload(input: { eventId: string; occurredAt: TimeInput; machine: MachineSnapshot }): MachineFlappingEndedPayload {
  return {
    event: 'machine.flapping_ended',
    event_id: input.eventId,
    occurred_at: iso(input.occurredAt, 'occurredAt'),
    machine: snapshot(input.machine, input.machine.status),
  };
}

/** The `webhook.test` body sent by the API's test endpoints: same envelope and signatures, no machine. */
export function buildTestPayload(input: { eventId: string; occurredAt: TimeInput }): TestPayload {
  return {
    event: 'webhook.test',
    event_id: input.eventId,
    occurred_at: iso(input.occurredAt, 'occurredAt'),
    message: 'This is a test notification from LunaSentri. Your webhook is set up correctly.',
  };
}

const ENVELOPE_ORDER = ['event', 'event_id', 'occurred_at', 'machine', 'offline_since', 'downtime_seconds', 'reminder', 'transitions', 'window_seconds'] as const;
const MACHINE_ORDER: ReadonlyArray<keyof MachineSnapshot> = ['id', 'name', 'hostname', 'description', 'status', 'last_seen'];

/**
 * Compact JSON with keys in contract order (`event`, `event_id`, `occurred_at`, `machine{id, name,
 * hostname, description, status, last_seen}`, then `offline_since`, `downtime_seconds`, and the
 * quiet-alert fields `reminder`, `transitions`, `window_seconds`); any extra top-level fields follow
 * in their own order. The exact string returned is what gets signed and sent.
 */
export function serializePayload(payload: MachineNotificationPayload | TestPayload): string {
  const source = payload as unknown as Record<string, unknown>;
  const ordered: Record<string, unknown> = {};
  for (const key of ENVELOPE_ORDER) {
    if (!(key in source)) continue;
    if (key === 'machine') {
      const machine = source.machine as Record<string, unknown>;
      const orderedMachine: Record<string, unknown> = {};
      for (const field of MACHINE_ORDER) orderedMachine[field] = machine[field];
      for (const [field, value] of Object.entries(machine)) if (!(field in orderedMachine)) orderedMachine[field] = value;
      ordered.machine = orderedMachine;
    } else {
      ordered[key] = source[key];
    }
  }
  for (const [key, value] of Object.entries(source)) if (!(key in ordered)) ordered[key] = value;
  return JSON.stringify(ordered);
}
