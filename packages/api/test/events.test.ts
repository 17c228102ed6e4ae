import { describeEachEngine, testOn } from '../../../test/support/engines';
import { randomUUID } from 'node:crypto';
import { insertMachine } from '../../../test/support/fixtures';
import { decodeEventCursor, encodeEventCursor } from '../src/events/events.cursor';
import { call, expectError, startWithAccounts, type CallResult, type TestApi, type TestUser } from './support/harness';

describeEachEngine('GET /events: machine filter and paging', (engine) => {
  let api: TestApi;
  let alice: TestUser;
  let bob: TestUser;
  beforeEach(async () => void ({ api, users: [alice, bob] } = await startWithAccounts({ engine }, ['alice@example.com', 'bob@example.com'])));
  afterEach(() => api.dispose());

  /** `count` events of one machine, several sharing each second so the tiebreak on created_at and id matters. */
  async function insertEvents(userId: number, machineId: number, count: number, startMs = Date.parse('2026-11-28T00:00:00.000Z')) {
    const rows = Array.from({ length: count }, (_, i) => {
      const occurredAt = new Date(startMs + Math.floor(i / 3) * 1_000).toISOString();
      const id = randomUUID();
      return { id, type: 'machine.offline' as const, machine_id: machineId, user_id: userId, occurred_at: occurredAt, payload: '{}', created_at: new Date(startMs + (i % 2) * 10).toISOString() };
    });
    for (let i = 0; i < rows.length; i += 400) await api.db.db.insertInto('events').values(rows.slice(i, i + 400)).execute();
    return rows;
  }

  /** The ids a full listing must show, in order: newest first by (occurred_at, created_at, id). */
  const expectedOrder = (rows: Array<{ id: string; occurred_at: string; created_at: string }>) =>
    [...rows]
      .sort((a, b) => (a.occurred_at !== b.occurred_at ? (a.occurred_at < b.occurred_at ? 1 : -1) : a.created_at !== b.created_at ? (a.created_at < b.created_at ? 1 : -1) : a.id < b.id ? 1 : -1))
      .map((r) => r.id);

  const get = (path: string, token = alice.token) => call(api.url, 'GET', path, { auth: token });
  const ids = (result: CallResult) => (result.body as Array<{ id: string }>).map((e) => e.id);
  const nextLink = (result: CallResult) => /^<([^>]+)>; rel="next"$/.exec(result.headers.get('link') ?? '')?.[1];

  it('pages past 500 events by following the Link header, each event exactly once, newest first', async () => {
    const machine = await insertMachine(api.db.db, alice.id);
    const rows = await insertEvents(alice.id, machine, 1_203);
    const seen: string[] = [];
    const sizes: number[] = [];
    let path: string | undefined = '/events?limit=500';
    while (path !== undefined) {
      const page = await get(path);
      expect(page.status).toBe(200);
      expect(Array.isArray(page.body)).toBe(true);
      seen.push(...ids(page));
      sizes.push(page.body.length);
      path = nextLink(page);
      // The same cursor, bare, for clients that would rather not parse Link.
      if (path !== undefined) expect(new URL(path, api.url).searchParams.get('before')).toBe(page.headers.get('x-next-cursor'));
      else expect(page.headers.get('x-next-cursor')).toBeNull();
    }
    expect(sizes).toEqual([500, 500, 203]);
    expect(seen).toEqual(expectedOrder(rows));
  });

  it('a last page that is exactly full carries no next cursor, and neither does a short listing', async () => {
    const machine = await insertMachine(api.db.db, alice.id);
    await insertEvents(alice.id, machine, 4);
    const first = await get('/events?limit=2');
    const second = await get(nextLink(first) as string);
    expect(second.body).toHaveLength(2);
    expect(second.headers.get('link')).toBeNull();
    expect((await get('/events')).headers.get('x-next-cursor')).toBeNull();
  });

  it('an event written while paging does not shift the pages that follow', async () => {
    const machine = await insertMachine(api.db.db, alice.id);
    const rows = await insertEvents(alice.id, machine, 6);
    const first = await get('/events?limit=3');
    await insertEvents(alice.id, machine, 1, Date.parse('2026-11-29T00:00:00.000Z'));
    const second = await get(nextLink(first) as string);
    expect([...ids(first), ...ids(second)]).toEqual(expectedOrder(rows));
  });

  it('filters by machine_id, keeping the filter across pages; a deleted machine’s events are still listed', async () => {
    const web = await insertMachine(api.db.db, alice.id, { name: 'web' });
    const db = await insertMachine(api.db.db, alice.id, { name: 'db' });
    const webRows = await insertEvents(alice.id, web, 5);
    await insertEvents(alice.id, db, 4);
    const first = await get(`/events?machine_id=${web}&limit=3`);
    expect(nextLink(first)).toMatch(new RegExp(`^/events\\?limit=3&machine_id=${web}&before=[A-Za-z0-9_-]+$`));
    const second = await get(nextLink(first) as string);
    expect([...ids(first), ...ids(second)]).toEqual(expectedOrder(webRows));
    expect((first.body as Array<{ machine_id: number }>).every((e) => e.machine_id === web)).toBe(true);

    await api.db.db.deleteFrom('machines').where('id', '=', web).execute();
    expect(ids(await get(`/events?machine_id=${web}&limit=500`))).toEqual(expectedOrder(webRows));
  });

  it('another user’s machine_id, or one that names nothing, lists no events (200 and an empty array)', async () => {
    const bobs = await insertMachine(api.db.db, bob.id, { name: 'bobs' });
    await insertEvents(bob.id, bobs, 3);
    for (const id of [bobs, 999]) {
      const result = await get(`/events?machine_id=${id}`);
      expect(result.status).toBe(200);
      expect(result.body).toEqual([]);
    }
    expect(ids(await get(`/events?machine_id=${bobs}`, bob.token))).toHaveLength(3);
  });

  it('a cursor only continues the caller’s own listing', async () => {
    const bobs = await insertMachine(api.db.db, bob.id);
    await insertEvents(bob.id, bobs, 4);
    const bobsFirst = await get('/events?limit=2', bob.token);
    expect((await get(nextLink(bobsFirst) as string)).body).toEqual([]);
  });

  it('refuses unknown query parameters, a bad machine_id and a cursor it did not hand out with 400 request.invalid_query', async () => {
    const unknown = await get('/events?machine=3');
    expectError(unknown, 400, 'request.invalid_query');
    expect(unknown.body.error).toBe('unknown query parameter "machine" (this route takes limit, machine_id, before)');
    for (const query of ['limit=10&offset=500', 'since=2026-01-01', '__proto__=1', 'LIMIT=5']) {
      expectError(await get(`/events?${query}`), 400, 'request.invalid_query');
    }
    for (const bad of ['0', '-1', 'abc', '1.5', '', '99999999999999999999']) {
      const result = await get(`/events?machine_id=${bad}`);
      expectError(result, 400, 'request.invalid_query');
      expect(result.body.error).toBe('machine_id must be a positive whole number');
    }
    const notJson = Buffer.from('not json').toString('base64url');
    const wrongShape = Buffer.from('["2026-11-28T00:00:00.000Z"]').toString('base64url');
    for (const bad of ['', 'abc', notJson, wrongShape, '!!!', 'a'.repeat(600)]) {
      const result = await get(`/events?before=${encodeURIComponent(bad)}`);
      expectError(result, 400, 'request.invalid_query');
      expect(result.body.error).toMatch(/^before must be a cursor/);
    }
  });

  testOn('sqlite', engine)('reads each page through an index on the user’s or the machine’s events, never a table scan', async () => {
    const plan = (where: string) =>
      (api.db.sqlite.prepare(`EXPLAIN QUERY PLAN SELECT * FROM events WHERE ${where} ORDER BY occurred_at DESC, created_at DESC, id DESC LIMIT 51`).all() as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join('; ');
    const keyset = `occurred_at <= 't' AND (occurred_at, created_at, id) < ('t', 'c', 'i')`;
    for (const where of [`user_id = 1`, `user_id = 1 AND ${keyset}`, `user_id = 1 AND machine_id = 2`, `user_id = 1 AND machine_id = 2 AND ${keyset}`]) {
      expect(plan(where)).toMatch(/SEARCH events USING INDEX idx_events_(user|machine)_time/);
      expect(plan(where)).not.toMatch(/SCAN events/);
    }
  });
});

describeEachEngine('event cursors', (engine) => {
  test.each([
    ['an ISO triple', { occurredAt: '2026-11-28T03:00:00.000Z', createdAt: '2026-11-28T03:00:00.001Z', id: randomUUID() }],
    ['any text the database holds', { occurredAt: 'odd "text", with / and +', createdAt: 'é', id: '1' }],
  ])('round-trips %s through a URL-safe string', (_name, cursor) => {
    const text = encodeEventCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeEventCursor(text)).toEqual(cursor);
  });

  test.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('{nope').toString('base64url')],
    ['an object', Buffer.from('{"a":1}').toString('base64url')],
    ['two parts', Buffer.from('["a","b"]').toString('base64url')],
    ['a number part', Buffer.from('["a","b",3]').toString('base64url')],
    ['an empty part', Buffer.from('["a","","c"]').toString('base64url')],
    ['too long', 'A'.repeat(513)],
  ])('refuses %s', (_name, text) => {
    expect(decodeEventCursor(text)).toBeUndefined();
  });
});
