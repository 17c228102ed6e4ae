import { formatDuration, maintenanceScheduleOf, maintenanceState } from '@lunasentri/shared';
import type { StoredWindow } from './maintenance.repository';

/** A window as the API shows it (CONTRACT §6.3), with `active`, `next_start` and `next_end` as of `now`. */
export function windowView({ window, machineIds }: StoredWindow, now: Date) {
  const schedule = maintenanceScheduleOf(window);
  const timing =
    schedule.kind === 'one-off'
      ? { starts_at: schedule.startsAt, ends_at: schedule.endsAt }
      : {
          recurrence: {
            weekdays: schedule.weekdays ?? null,
            start: schedule.start,
            duration: formatDuration(schedule.durationMs),
            timezone: schedule.timezone,
          },
        };
  return {
    id: window.id,
    name: window.name,
    kind: schedule.kind,
    machine_ids: machineIds,
    ...timing,
    ...maintenanceState(schedule, now),
    created_at: window.created_at,
  };
}
