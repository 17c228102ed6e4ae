import { loneSurrogateAt } from '@lunasentri/shared';
import { UsageError } from '@lunasentri/shared';
import type { AdminCommand } from './cli.program';

/** The free-text options of a command, by flag name. */
function textOptions(command: AdminCommand): Array<[flag: string, value: string | undefined]> {
  switch (command.kind) {
    case 'migrate':
      return [];
    case 'machine-create':
      return [
        ['email', command.email],
        ['name', command.name],
        ['hostname', command.hostname],
        ['description', command.description],
      ];
    case 'machine-snooze':
    case 'machine-unsnooze':
      return [
        ['email', command.email],
        ['name', 'name' in command.machine ? command.machine.name : undefined],
      ];
    default:
      return [['email', command.email]];
  }
}

/**
 * Refuses text that cannot be stored as UTF-8 (a lone UTF-16 surrogate), the same rule as the API's
 * bodies, before anything is written. A real command line cannot carry one (Node decodes argv bytes
 * and turns invalid UTF-8 into U+FFFD), but `runCli` takes any strings, so the commands check.
 * @throws UsageError: exit status 2 and one stderr line naming the option.
 */
export function checkAdminText(command: AdminCommand): void {
  for (const [flag, value] of textOptions(command)) {
    if (value === undefined || loneSurrogateAt(value) < 0) continue;
    throw new UsageError(`invalid value for --${flag}: ${JSON.stringify(value.slice(0, 80))} (contains an unpaired UTF-16 surrogate)`);
  }
}
