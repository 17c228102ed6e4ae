import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { addSettingOptions, ConfigError, envOnlyHelp, makeDefaultCommand, packageVersion, resolveSettings, UsageError, type SettingsValues } from '@lunasentri/shared';
import { adminSettings, serveSettings } from '../api.settings';
import { controlCharacterAt, DESCRIPTION_MAX, HOSTNAME_MAX, NAME_MAX } from '../machines/machines.schemas';

export type ServeSettings = SettingsValues<typeof serveSettings>;
export type AdminSettings = SettingsValues<typeof adminSettings>;

export type AdminCommand =
  | { kind: 'user-create'; email: string; admin: boolean; json: boolean }
  | { kind: 'token-create'; email: string; json: boolean }
  | { kind: 'token-list'; email: string; json: boolean }
  | { kind: 'token-revoke'; email: string; id: number; json: boolean }
  | { kind: 'machine-create'; email: string; name: string; hostname?: string; description?: string; json: boolean }
  | { kind: 'machine-snooze'; email: string; machine: MachineSelector; snooze: { for?: string; until?: string }; json: boolean }
  | { kind: 'machine-unsnooze'; email: string; machine: MachineSelector; json: boolean }
  | { kind: 'migrate' };

/** Which of the user's machines a command means: by id, or by its (unique) name. */
export type MachineSelector = { id: number } | { name: string };

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** What the commands do; the composition root provides them. Each resolves to an exit status. */
export interface CliHandlers {
  serve(settings: ServeSettings): Promise<number>;
  admin(settings: AdminSettings, command: AdminCommand): Promise<number>;
}

const EMAIL = /^[^\s@]+@[^\s@]+$/;

function checkText(flag: string, value: string | undefined, max: number, required: boolean, allowTab = false): string | undefined {
  if (value === undefined) return undefined;
  if (value.length > max) throw new UsageError(`invalid value for --${flag}: longer than ${max} characters`);
  // Same rule as the API: a control character (a newline above all) would forge log lines.
  if (controlCharacterAt(value, allowTab) >= 0) throw new UsageError(`invalid value for --${flag}: must not contain control characters`);
  if (required && value.trim() === '') throw new UsageError(`invalid value for --${flag}: ${JSON.stringify(value)} (must not be empty)`);
  return value;
}

function checkId(flag: string, value: string): number {
  const id = /^[1-9][0-9]{0,15}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(id)) throw new UsageError(`invalid value for --${flag}: ${JSON.stringify(value.slice(0, 40))} (must be a positive whole number)`);
  return id;
}

/** `--name` or `--id`, exactly one. */
function machineSelector(options: Record<string, unknown>): MachineSelector {
  if ((options.name === undefined) === (options.id === undefined)) throw new UsageError('give exactly one of --name and --id');
  if (options.id !== undefined) return { id: checkId('id', String(options.id)) };
  return { name: checkText('name', String(options.name), NAME_MAX, true) as string };
}

/** Emails are compared case-insensitively: trimmed and lowercased here, and again by the repository. */
function checkEmail(value: string): string {
  const email = value.trim().toLowerCase();
  if (!EMAIL.test(email) || email.length > 320) throw new UsageError(`invalid value for --email: ${JSON.stringify(value.slice(0, 340))} (must be an email address)`);
  return email;
}

/**
 * `lunasentri-api [serve] | user create | token create|list|revoke | machine create|snooze|unsnooze | migrate`. Settings come
 * from the shared declarations (flag beats env beats default); a bad value is one stderr line and
 * exit status 2, never a silent fallback.
 */
export async function runCli(argv: string[], io: CliIo, handlers: CliHandlers): Promise<number> {
  let status = 0;
  const fail = (message: string): number => {
    io.stderr.write(`lunasentri-api: ${message}\n`);
    return 2;
  };
  const settingsOf = <S extends Parameters<typeof resolveSettings>[0]>(spec: S, command: Command) =>
    resolveSettings(spec, { flags: command.opts() as Record<string, string | undefined>, env: io.env });

  const program = new Command('lunasentri-api')
    .description('LunaSentri HTTP API (agent ingest, machines, notification channels, events) and admin commands')
    .version(packageVersion(join(__dirname, '..', '..')), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // One line: commander puts its "(Did you mean …?)" suggestion on a line of its own.
      outputError: (text, write) => write(`lunasentri-api: ${text.replace(/^error: /, '').trimEnd().replace(/\s*\n\s*/g, ' ')}\n`),
    });

  const serve = program.command('serve', { isDefault: true }).description('run the HTTP API (the default command)');
  addSettingOptions(serve, serveSettings).addHelpText('after', envOnlyHelp(serveSettings)).action(async (_options, command: Command) => {
    status = await handlers.serve(settingsOf(serveSettings, command));
  });
  makeDefaultCommand(program, serve, envOnlyHelp(serveSettings));

  const admin = (command: Command, build: (options: Record<string, unknown>) => AdminCommand) =>
    addSettingOptions(command, adminSettings).action(async (options: Record<string, unknown>, self: Command) => {
      const parsed = build(options);
      status = await handlers.admin(settingsOf(adminSettings, self), parsed);
    });

  const user = program.command('user').description('manage users');
  admin(
    user
      .command('create')
      .description("create a user and print the user's API token (shown once)")
      .requiredOption('--email <EMAIL>', 'the user email')
      .option('--admin', 'make the user an administrator')
      .option('--json', 'print JSON instead of the bare token'),
    (o) => ({ kind: 'user-create', email: checkEmail(String(o.email)), admin: o.admin === true, json: o.json === true }),
  );

  const token = program.command('token').description('manage personal API tokens');
  admin(
    token
      .command('create')
      .description('create another API token for a user and print it (shown once)')
      .requiredOption('--email <EMAIL>', 'the user email')
      .option('--json', 'print JSON instead of the bare token'),
    (o) => ({ kind: 'token-create', email: checkEmail(String(o.email)), json: o.json === true }),
  );
  admin(
    token
      .command('list')
      .description("list a user's API tokens (id, name, created_at, last_used_at, revoked_at; never the token)")
      .requiredOption('--email <EMAIL>', 'the user email')
      .option('--json', 'print JSON instead of a table'),
    (o) => ({ kind: 'token-list', email: checkEmail(String(o.email)), json: o.json === true }),
  );
  admin(
    token
      .command('revoke')
      .description('revoke one of a user\'s API tokens (refused on its next request)')
      .requiredOption('--email <EMAIL>', 'the user email')
      .requiredOption('--id <N>', 'the token id, from token list')
      .option('--json', 'print JSON instead of a sentence'),
    (o) => ({ kind: 'token-revoke', email: checkEmail(String(o.email)), id: checkId('id', String(o.id)), json: o.json === true }),
  );

  addMachineCommands(program, admin);

  admin(program.command('migrate').description('apply database migrations and exit'), () => ({ kind: 'migrate' }));

  try {
    await program.parseAsync(argv);
    return status;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ConfigError || error instanceof UsageError) return fail(error.message);
    throw error;
  }
}

type AdminAction = (command: Command, build: (options: Record<string, unknown>) => AdminCommand) => Command;

/** `machine create`, `machine snooze` and `machine unsnooze`. */
function addMachineCommands(program: Command, admin: AdminAction): void {
  const machine = program.command('machine').description('manage machines');
  admin(
    machine
      .command('create')
      .description("create a machine for a user and print its agent API key (shown once)")
      .requiredOption('--email <EMAIL>', 'the owner email')
      .requiredOption('--name <NAME>', 'machine name')
      .option('--hostname <HOST>', 'hostname shown in alerts')
      .option('--description <TEXT>', 'free text shown in alerts')
      .option('--json', 'print JSON instead of the bare key'),
    (o) => ({
      kind: 'machine-create',
      email: checkEmail(String(o.email)),
      name: checkText('name', String(o.name), NAME_MAX, true) as string,
      hostname: checkText('hostname', o.hostname as string | undefined, HOSTNAME_MAX, false),
      description: checkText('description', o.description as string | undefined, DESCRIPTION_MAX, false, true),
      json: o.json === true,
    }),
  );

  const selectorOptions = (command: Command) =>
    command
      .requiredOption('--email <EMAIL>', 'the owner email')
      .option('--name <NAME>', 'the machine, by name')
      .option('--id <N>', 'the machine, by id')
      .option('--json', 'print the machine as JSON instead of a sentence');
  admin(
    selectorOptions(machine.command('snooze').description('keep quiet about a machine for a while --for DUR, --until TIME or --until next-online'))
      .option('--for <DUR>', 'how long, a Go duration such as 1h or 30m (at most 720h)')
      .option('--until <TIME>', 'an ISO-8601 time with an offset, or next-online'),
    (o) => {
      if ((o.for === undefined) === (o.until === undefined)) throw new UsageError('give exactly one of --for and --until');
      const snooze = o.for !== undefined ? { for: String(o.for) } : { until: String(o.until) };
      return { kind: 'machine-snooze', email: checkEmail(String(o.email)), machine: machineSelector(o), snooze, json: o.json === true };
    },
  );
  admin(selectorOptions(machine.command('unsnooze').description("end a machine's snooze now")), (o) => ({
    kind: 'machine-unsnooze',
    email: checkEmail(String(o.email)),
    machine: machineSelector(o),
    json: o.json === true,
  }));
}
