import { POSTGRES_URL } from './support/engines';

// The one place that says whether the PostgreSQL half of the suite ran.
if (POSTGRES_URL) {
  test('a private PostgreSQL server is running for the tests', () => {
    expect(POSTGRES_URL).toMatch(/^postgres:\/\/.*@127\.0\.0\.1:\d+\//);
  });
} else if (process.env.CI === 'true') {
  test('PostgreSQL is required under CI', () => {
    throw new Error('no PostgreSQL server for the tests: install Debian\'s postgresql package (the test command starts its own server)');
  });
} else {
  process.stdout.write('PostgreSQL tests skipped: no PostgreSQL server binaries found (apt-get install postgresql)\n');
  test.skip('PostgreSQL tests (no PostgreSQL server binaries on this machine)', () => undefined);
}
