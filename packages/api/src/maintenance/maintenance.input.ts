import { parseMaintenanceSchedule, QuietInputError, type MaintenanceSchedule } from '@lunasentri/shared';
import { controlCharacterAt, NAME_MAX } from '../machines/machines.schemas';

/** A `POST /maintenance` body, read and checked. */
export interface NewWindowInput {
  name: string;
  schedule: MaintenanceSchedule;
  /** null: every machine of the user, including machines added later */
  machineIds: number[] | null;
}

const FIELDS = new Set(['name', 'machine_ids', 'starts_at', 'ends_at', 'recurrence']);
/** More machines than this in one window is a fleet: leave `machine_ids` out for all of them. */
export const WINDOW_MACHINES_MAX = 10_000;

const shown = (value: unknown): string => (value === undefined ? 'nothing' : JSON.stringify(value)?.slice(0, 80) ?? String(value));

function checkName(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > NAME_MAX || controlCharacterAt(value, false) >= 0) {
    throw new QuietInputError('name', `name must be a text of 1 to ${NAME_MAX} characters without control characters; got ${shown(value)}`);
  }
  return value;
}

function checkMachineIds(value: unknown): number[] | null {
  if (value === undefined) return null;
  const expected = `machine_ids must be a list of 1 to ${WINDOW_MACHINES_MAX} machine ids (leave it out for every machine); got ${shown(value)}`;
  if (!Array.isArray(value) || value.length === 0 || value.length > WINDOW_MACHINES_MAX) throw new QuietInputError('machine_ids', expected);
  const seen = new Set<number>();
  value.forEach((id: unknown, index) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new QuietInputError(`machine_ids[${index}]`, `machine_ids[${index}] must be a machine id; got ${shown(id)}`);
    if (seen.has(id)) throw new QuietInputError(`machine_ids[${index}]`, `machine ${id} is listed twice in machine_ids`);
    seen.add(id);
  });
  return [...seen];
}

/**
 * Reads a `POST /maintenance` body at `now`. Unknown fields are refused (a misspelt `machine_id`
 * silently ignored would put every machine in the window), and a one-off window that is already
 * over stores nothing. Throws `QuietInputError`.
 */
export function parseNewWindow(body: unknown, now: Date): NewWindowInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new QuietInputError('', 'a maintenance window must be a JSON object');
  const record = body as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !FIELDS.has(key));
  if (unknown !== undefined) throw new QuietInputError(unknown, `${unknown.slice(0, 64)} is not a field of a maintenance window (name, machine_ids, starts_at, ends_at, recurrence)`);
  const name = checkName(record.name);
  const machineIds = checkMachineIds(record.machine_ids);
  const schedule = parseMaintenanceSchedule(record);
  if (schedule.kind === 'one-off' && Date.parse(schedule.endsAt) <= now.getTime()) {
    throw new QuietInputError('ends_at', `ends_at (${schedule.endsAt}) is already past: the window would never be open`);
  }
  return { name, schedule, machineIds };
}
