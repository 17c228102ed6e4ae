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
