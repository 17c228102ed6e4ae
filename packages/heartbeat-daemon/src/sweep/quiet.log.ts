import type { Logger } from '@lunasentri/shared';
import type { MachineRow } from './machines.repository';
import type { QuietOutcome } from './quiet.models';

/** One line for what a quiet rule did with a machine's event, after the commit (nothing for an ordinary one). */
export function logQuietOutcome(logger: Logger, machine: Pick<MachineRow, 'id' | 'name'>, outcome: QuietOutcome): void {
  const event = outcome.event;
  if (event === null) return;
  const label = `Machine ${machine.id} (${machine.name})`;
  if (event.suppressed !== null) {
    logger.info(`${label}: ${event.type} recorded but not sent (${event.suppressed})`);
  } else if (event.type === 'machine.flapping') {
    logger.warn(`${label} is flapping (${event.flapping?.transitions ?? 0} status changes in ${event.flapping?.windowSeconds ?? 0}s): further changes are not announced until it settles`);
  } else if (event.type === 'machine.flapping_ended') {
    logger.info(`${label} stopped flapping: ${event.status}`);
  }
}
