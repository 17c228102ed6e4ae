import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { envNames, type SettingsSpec } from './settings';

/**
 * Adds one commander option per setting that has a flag. Defaults are not handed to commander, so
 * "not given" stays distinguishable and the env var can win over the default (see resolveSettings).
 * Setting keys must be the camelCase of their flag (commander's attribute name).
 */
export function addSettingOptions(command: Command, spec: SettingsSpec): Command {
  for (const setting of Object.values(spec)) {
    if (!setting.flag) continue;
    const env = setting.env ? `; env ${envNames(setting).join(', else ')}` : '';
    command.addOption(new Option(`--${setting.flag} <${setting.valueName}>`, `${setting.doc} (default: ${defaultText(setting)}${env})`));
  }
  return command;
}

/** How a setting's default reads in help text. */
function defaultText(setting: SettingsSpec[string]): string {
  return setting.default === '' ? 'unset' : setting.format(setting.default);
}

/**
 * The settings read only from the environment (no flag), as an `Environment:` section for a
 * command's `--help`; empty when there are none. Same declarations as the flags and the README.
 */
export function envOnlyHelp(spec: SettingsSpec): string {
  const rows = Object.values(spec).filter((s) => !s.flag && s.env);
  if (rows.length === 0) return '';
  const width = Math.max(...rows.map((s) => (s.env as string).length));
  const lines = rows.map((s) => `  ${(s.env as string).padEnd(width)}  ${s.doc} (default: ${defaultText(s)})`);
  return `\nEnvironment:\n${lines.join('\n')}\n`;
}

/** The `version` of the package.json in `packageDir` (a package's root), for `--version`. */
export function packageVersion(packageDir: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0'; // only the --version text depends on it
  }
}

/**
 * Makes `command` the program's default command as users expect of one:
 * - a stray operand is a mistyped command name: `prog stauts` says `unknown command 'stauts'` with
 *   commander's suggestion (`(Did you mean status?)`), not "too many arguments for 'run'"; a real
 *   command name after options (`prog --db x status`) is told to come first;
 * - the program's `--help` ends with the default command's own help (its options), plus `after`.
 * `command` must take no arguments of its own.
 */
export function makeDefaultCommand(program: Command, command: Command, after = ''): Command {
  command.allowExcessArguments(true).hook('preAction', (_self, actionCommand) => {
    const [stray] = actionCommand.args;
    if (stray === undefined) return;
    if (program.commands.some((c) => c.name() === stray)) {
      program.error(`error: the command '${stray}' must come first, before any option`, { code: 'commander.excessArguments' });
    }
    // Commander's own unknown-command error (suggestion included) names program.args[0].
    program.args = [stray];
    (program as unknown as { unknownCommand(): never }).unknownCommand();
  });
  program.addHelpText('after', () => `\nThe default command, ${command.name()}:\n${command.helpInformation()}${after}`);
  return command;
}
