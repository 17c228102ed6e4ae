import { Option, type Command } from 'commander';
import type { SettingsSpec } from './settings';

/**
 * Adds one commander option per setting that has a flag. Defaults are not handed to commander, so
 * "not given" stays distinguishable and the env var can win over the default (see resolveSettings).
 * Setting keys must be the camelCase of their flag (commander's attribute name).
 */
export function addSettingOptions(command: Command, spec: SettingsSpec): Command {
  for (const setting of Object.values(spec)) {
    if (!setting.flag) continue;
    const env = setting.env ? `; env ${setting.env}` : '';
    const def = setting.default === '' ? 'unset' : setting.format(setting.default);
    command.addOption(new Option(`--${setting.flag} <${setting.valueName}>`, `${setting.doc} (default: ${def}${env})`));
  }
  return command;
}
