/** The database could not be reached or refused us; the message names host and database, never the password. */
export class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

/** `postgres://user@host:port/db`: the URL as logs and errors may show it (no password, no query). */
export function describePostgresUrl(url: string): string {
  const u = new URL(url);
  const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
  return `postgres://${user}${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
}
