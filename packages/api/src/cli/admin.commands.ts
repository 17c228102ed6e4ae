import type { Kysely } from 'kysely';
import { migrateToLatest, type Clock, type Database } from '@lunasentri/shared';
import { createMachine } from '../machines/machines.repository';
import { machineView } from '../machines/machines.view';
import { createToken, createUser, findUserByEmail, listTokens, revokeToken, UserExistsError, type TokenSummary } from '../users/users.repository';
import { checkAdminText } from './admin.input';
import type { AdminCommand } from './cli.program';

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
      if (command.json) print(JSON.stringify({ machine: machineView(machine), api_key: apiKey }));
      else {
        say(`Created machine ${machine.id} (${machine.name}) for ${user.email} in ${io.database}. Its agent API key follows; it is shown once.`);
        print(apiKey);
      }
      return;
    }
  }
}

/** One tab-separated line; names are the CLI's own or free text, so control characters are shown escaped. */
function tokenRow(t: TokenSummary): string {
  const cell = (value: string | number | null) => (value === null ? '-' : JSON.stringify(String(value)).slice(1, -1));
  return [t.id, t.name, t.created_at, t.last_used_at, t.revoked_at].map(cell).join('\t');
}
