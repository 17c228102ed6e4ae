import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, UsageError, addSettingOptions, envOnlyHelp, makeDefaultCommand, packageVersion, resolveSettings, type SettingsSpec } from '@lunasentri/shared';
import { runSettings, statusSettings, type RunSettings, type StatusSettings } from './daemon.settings';

export type CliCommand =
  | { kind: 'run'; settings: RunSettings; once: boolean }
  | { kind: 'status'; settings: StatusSettings; json: boolean }
  /** Help or version was printed; nothing else to do. */
  | { kind: 'done' };

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

function flagValues(spec: SettingsSpec, options: Record<string, unknown>): Record<string, string | undefined> {
  const flags: Record<string, string | undefined> = {};
  for (const key of Object.keys(spec)) {
    const value = options[key];
    if (typeof value === 'string') flags[key] = value;
  }
  return flags;
}

function resolveOrThrow<S extends SettingsSpec>(spec: S, options: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  try {
    return resolveSettings(spec, { flags: flagValues(spec, options), env });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}

/**
 * Parses `lunasentri-heartbeat [run] …` / `status …`: flags beat env, env beats defaults.
 * @throws UsageError (exit status 2) for unknown options, missing values and bad settings.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv, output: CliOutput): CliCommand {
  let result: CliCommand = { kind: 'done' };
  const program = new Command('lunasentri-heartbeat')
    .description('LunaSentri heartbeat monitor: marks machines offline and online and delivers the notifications')
    .version(packageVersion(join(__dirname, '..')), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: output.out,
      writeErr: output.err,
      // Errors are reported once, by the caller, as a single line.
      outputError: () => undefined,
    });

  const run = program
    .command('run', { isDefault: true })
    .description('watch the machines and deliver notifications until stopped (the default command)');
  addSettingOptions(run, { ...runSettings });
  run.addOption(new Option('--once', 'run one check, deliver what is due, and exit'));
  run.addHelpText('after', envOnlyHelp(runSettings));
  makeDefaultCommand(program, run, envOnlyHelp(runSettings));
  run.action((options: Record<string, unknown>) => {
    result = { kind: 'run', settings: resolveOrThrow(runSettings, options, env), once: options.once === true };
  });

  const status = program
    .command('status')
    .description('print every machine with its status and last report, and deliveries not yet delivered');
  addSettingOptions(status, { ...statusSettings });
  status.addOption(new Option('--json', 'print the machines as JSON'));
  status.action((options: Record<string, unknown>) => {
    result = { kind: 'status', settings: resolveOrThrow(statusSettings, options, env), json: options.json === true };
  });

  try {
    program.parse(argv, { from: 'node' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return { kind: 'done' };
      throw new UsageError(error.message.replace(/\s+/g, ' ').trim());
    }
    throw error;
  }
  return result;
}
