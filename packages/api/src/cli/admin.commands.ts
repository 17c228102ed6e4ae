import type { Kysely } from 'kysely';
import { migrateToLatest, parseSnoozeRequest, QuietInputError, UsageError, type Clock, type Database, type Machine } from '@lunasentri/shared';
import { createMachine } from '../machines/machines.repository';
import { machineView } from '../machines/machines.view';
import { snoozeMachine, unsnoozeMachine } from '../machines/snooze.repository';
import { createToken, createUser, findUserByEmail, listTokens, revokeToken, UserExistsError, type TokenSummary } from '../users/users.repository';
import { checkAdminText } from './admin.input';
import type { AdminCommand, MachineSelector } from './cli.program';

export interface AdminIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** the database as the notes name it (an absolute file path, or a URL without its password) */
  database: string;
}

/** The operation itself failed (no such user, user exists): exit status 1 with one line. */
export class AdminError extends Error {
  override name = 'AdminError';
}

/**
 * Runs one admin command on a migrated database. The secret it creates (token or key) is the only
 * thing on stdout, so `TOKEN=$(lunasentri-api user create --email …)` works; the human-readable
 * note goes to stderr. `--json` prints one JSON object instead.
 */
export async function runAdminCommand(db: Kysely<Database>, clock: Clock, command: AdminCommand, io: AdminIo): Promise<void> {
  const say = (text: string) => io.stderr.write(`${text}\n`);
  const print = (text: string) => io.stdout.write(`${text}\n`);
  checkAdminText(command);
  switch (command.kind) {
    case 'migrate': {
      const applied = await migrateToLatest(db);
      print(applied.length === 0 ? `Database ${io.database} is up to date.` : `Applied ${applied.length} migration(s) to ${io.database}: ${applied.join(', ')}`);
      return;
    }
    case 'user-create': {
      let created;
      try {
        created = await createUser(db, clock, command.email, command.admin);
      } catch (error) {
        if (error instanceof UserExistsError) throw new AdminError(error.message);
        throw error;
      }
      const { user, token } = created;
      if (command.json) print(JSON.stringify({ user: { id: user.id, email: user.email, is_admin: user.is_admin === 1 }, token }));
      else {
        say(`Created ${user.is_admin ? 'admin ' : ''}user ${user.id} (${user.email}) in ${io.database}. Its API token follows; it is shown once.`);
        print(token);
      }
      return;
    }
    case 'token-create': {
      const user = await findUserByEmail(db, command.email);
      if (!user) throw new AdminError(`no user with email ${command.email}`);
      const token = await createToken(db, clock, user.id, 'created with the CLI');
      if (command.json) print(JSON.stringify({ user: { id: user.id, email: user.email }, token }));
      else {
        say(`Created an API token for user ${user.id} (${user.email}) in ${io.database}; it is shown once.`);
        print(token);
      }
      return;
    }
    case 'token-list': {
      const user = await findUserByEmail(db, command.email);
      if (!user) throw new AdminError(`no user with email ${command.email}`);
      const tokens = await listTokens(db, user.id);
      if (command.json) print(JSON.stringify({ user: { id: user.id, email: user.email }, tokens }));
      else {
        say(`${tokens.length} API token(s) for user ${user.id} (${user.email}).`);
        print(['id', 'name', 'created_at', 'last_used_at', 'revoked_at'].join('\t'));
        for (const t of tokens) print(tokenRow(t));
      }
      return;
    }
    case 'token-revoke': {
      const user = await findUserByEmail(db, command.email);
      if (!user) throw new AdminError(`no user with email ${command.email}`);
      const result = await revokeToken(db, clock, user.id, command.id);
      if (!result) throw new AdminError(`no API token ${command.id} for ${user.email}`);
      if (command.json) print(JSON.stringify({ user: { id: user.id, email: user.email }, token: result.token, already_revoked: result.alreadyRevoked }));
      else if (result.alreadyRevoked) say(`API token ${command.id} of ${user.email} was already revoked at ${result.token.revoked_at}.`);
      else say(`Revoked API token ${command.id} of ${user.email}; it is refused from its next request.`);
      return;
    }
    case 'machine-create': {
      const user = await findUserByEmail(db, command.email);
      if (!user) throw new AdminError(`no user with email ${command.email}`);
      const { machine, apiKey } = await createMachine(db, clock, user.id, {
        name: command.name,
        hostname: command.hostname,
        description: command.description,
      });
      if (command.json) print(JSON.stringify({ machine: machineView(machine, clock.now()), api_key: apiKey }));
      else {
        say(`Created machine ${machine.id} (${machine.name}) for ${user.email} in ${io.database}. Its agent API key follows; it is shown once.`);
        print(apiKey);
      }
      return;
    }
    case 'machine-snooze':
    case 'machine-unsnooze':
      return runSnoozeCommand(db, clock, command, { say, print });
  }
}

/** The user's machine the selector names; a name held by several of their machines must be given as an id. */
async function selectMachine(db: Kysely<Database>, email: string, selector: MachineSelector): Promise<Machine> {
  const user = await findUserByEmail(db, email);
  if (!user) throw new AdminError(`no user with email ${email}`);
  let query = db.selectFrom('machines').selectAll().where('user_id', '=', user.id);
  query = 'id' in selector ? query.where('id', '=', selector.id) : query.where('name', '=', selector.name);
  const found = await query.orderBy('id').limit(2).execute();
  const what = 'id' in selector ? `machine ${selector.id}` : `machine named ${JSON.stringify(selector.name)}`;
  if (found.length === 0) throw new AdminError(`${email} has no ${what}`);
  if (found.length > 1) throw new AdminError(`${email} has several machines named ${JSON.stringify((selector as { name: string }).name)}: give --id instead`);
  return found[0];
}

async function runSnoozeCommand(
  db: Kysely<Database>,
  clock: Clock,
  command: Extract<AdminCommand, { kind: 'machine-snooze' | 'machine-unsnooze' }>,
  out: { say: (text: string) => void; print: (text: string) => void },
): Promise<void> {
  const now = clock.now();
  let until: string | undefined;
  if (command.kind === 'machine-snooze') {
    try {
      until = parseSnoozeRequest(command.snooze, now);
    } catch (error) {
      // The same rule as the API, named by its flag: a bad value is a usage error (exit status 2).
      if (error instanceof QuietInputError) throw new UsageError(`invalid value for --${error.field === 'for' ? 'for' : 'until'}: ${error.message}`);
      throw error;
    }
  }
  const target = await selectMachine(db, command.email, command.machine);
  const change = { userId: target.user_id, machineId: target.id, now };
  const machine = until === undefined ? await unsnoozeMachine(db, change) : await snoozeMachine(db, { ...change, until });
  if (!machine) throw new AdminError(`machine ${target.id} is gone`);
  const view = machineView(machine, now);
  if (command.json) out.print(JSON.stringify({ machine: view }));
  else if (view.snoozed_until === null) out.say(`Machine ${machine.id} (${machine.name}) is not snoozed.`);
  else out.say(`Machine ${machine.id} (${machine.name}) is snoozed until ${view.snoozed_until}.`);
}

/** One tab-separated line; names are the CLI's own or free text, so control characters are shown escaped. */
function tokenRow(t: TokenSummary): string {
  const cell = (value: string | number | null) => (value === null ? '-' : JSON.stringify(String(value)).slice(1, -1));
  return [t.id, t.name, t.created_at, t.last_used_at, t.revoked_at].map(cell).join('\t');
}
