import type { DatabaseEngine } from '@lunasentri/shared';

/**
 * The engines a database test runs on: SQLite always; PostgreSQL when the test command started a
 * private server (LUNASENTRI_TEST_POSTGRES_URL, see scripts/private-postgres.sh). Without one,
 * `test/postgres.availability.test.ts` says so in one line (and fails under CI=true).
 */
export const POSTGRES_URL = process.env.LUNASENTRI_TEST_POSTGRES_URL;

export const ENGINES: readonly DatabaseEngine[] = POSTGRES_URL ? ['sqlite', 'postgres'] : ['sqlite'];

/** One suite, run once per engine: `describeEachEngine('the sweep', (engine) => { … })`. */
export function describeEachEngine(name: string, suite: (engine: DatabaseEngine) => void): void {
  describe.each(ENGINES.map((engine) => [engine]))(`${name} (%s)`, (engine) => suite(engine as DatabaseEngine));
}

/** A test that only means something on one engine (a SQLite query plan, a PostgreSQL lock). */
export function testOn(engine: DatabaseEngine, current: DatabaseEngine): jest.It {
  return engine === current ? test : test.skip;
}
