import {
  buildFlappingEndedPayload,
  buildFlappingPayload,
  buildStillOfflinePayload,
  buildOfflinePayload,
  buildOnlinePayload,
  buildTestPayload,
  formatDowntime,
  renderTelegramMessage,
  renderTelegramTestMessage,
  serializePayload,
  TELEGRAM_MESSAGE_LIMIT,
  type MachineSnapshot,
} from '@lunasentri/shared';
import { expectWellFormedTelegramHtml } from './notify.telegram-fixtures';

const machine: MachineSnapshot = {
  id: 1,
  name: 'production-server',
  hostname: 'prod-01.example.com',
  description: 'Main API server',
  status: 'online',
  last_seen: '2026-11-28T03:00:00.000Z',
};


describe('webhook payloads', () => {
  test('an offline event serializes exactly as CONTRACT §4.1 shows', () => {
    const payload = buildOfflinePayload({ eventId: 'evt_1', occurredAt: new Date('2026-11-28T03:02:15Z'), machine });
    expect(serializePayload(payload)).toBe(
      '{"event":"machine.offline","event_id":"evt_1","occurred_at":"2026-11-28T03:02:15.000Z",' +
        '"machine":{"id":1,"name":"production-server","hostname":"prod-01.example.com",' +
        '"description":"Main API server","status":"offline","last_seen":"2026-11-28T03:00:00.000Z"}}',
    );
  });

  test('an online event adds offline_since and whole seconds of downtime, after the machine', () => {
    const payload = buildOnlinePayload({
      eventId: 'evt_2',
      occurredAt: '2026-11-28T03:10:00.900Z',
      offlineSince: '2026-11-28T03:02:15.000Z',
      machine: { ...machine, status: 'offline', hostname: null, description: null },
    });
    expect(payload.downtime_seconds).toBe(465);
    expect(serializePayload(payload)).toBe(
      '{"event":"machine.online","event_id":"evt_2","occurred_at":"2026-11-28T03:10:00.900Z",' +
        '"machine":{"id":1,"name":"production-server","hostname":null,"description":null,"status":"online","last_seen":"2026-11-28T03:00:00.000Z"},' +
        '"offline_since":"2026-11-28T03:02:15.000Z","downtime_seconds":465}',
    );
  });

  test('serialization keeps contract order whatever order the object was built in', () => {
    const shuffled = { downtime_seconds: 5, machine: { last_seen: null, status: 'online', description: null, hostname: null, name: 'n', id: 2 }, offline_since: '2026-11-28T03:00:00.000Z', occurred_at: '2026-11-28T03:00:05.000Z', event_id: 'e', event: 'machine.online' };
    expect(Object.keys(JSON.parse(serializePayload(shuffled as never)) as object)).toEqual(['event', 'event_id', 'occurred_at', 'machine', 'offline_since', 'downtime_seconds']);
    expect(serializePayload(shuffled as never)).toContain('"machine":{"id":2,"name":"n","hostname":null,"description":null,"status":"online","last_seen":null}');
  });

  test('quiet-alert events (CONTRACT §6.2, §6.4) keep the envelope and add their fields after the machine', () => {
    const still = buildStillOfflinePayload({ eventId: 'e3', occurredAt: '2026-11-28T03:32:15.000Z', offlineSince: '2026-11-28T03:02:15.000Z', reminder: 2, machine });
    expect(serializePayload(still)).toBe(
      '{"event":"machine.still_offline","event_id":"e3","occurred_at":"2026-11-28T03:32:15.000Z",' +
        '"machine":{"id":1,"name":"production-server","hostname":"prod-01.example.com","description":"Main API server","status":"offline","last_seen":"2026-11-28T03:00:00.000Z"},' +
        '"offline_since":"2026-11-28T03:02:15.000Z","downtime_seconds":1800,"reminder":2}',
    );
    const flapping = buildFlappingPayload({ eventId: 'e4', occurredAt: '2026-11-28T03:05:00Z', transitions: 5, windowSeconds: 1800, machine: { ...machine, status: 'offline' } });
    expect(Object.keys(flapping)).toEqual(['event', 'event_id', 'occurred_at', 'machine', 'transitions', 'window_seconds']);
    expect(flapping).toMatchObject({ event: 'machine.flapping', machine: { status: 'offline' }, transitions: 5, window_seconds: 1800 });
    const ended = buildFlappingEndedPayload({ eventId: 'e5', occurredAt: '2026-11-28T03:15:00Z', machine });
    expect(JSON.parse(serializePayload(ended))).toEqual({ event: 'machine.flapping_ended', event_id: 'e5', occurred_at: '2026-11-28T03:15:00.000Z', machine });
  });

  test('the test event carries the envelope and a message but no machine', () => {
    const payload = buildTestPayload({ eventId: 'evt_t', occurredAt: new Date('2026-11-28T03:00:00Z') });
    const parsed = JSON.parse(serializePayload(payload)) as Record<string, unknown>;
    expect(parsed).toMatchObject({ event: 'webhook.test', event_id: 'evt_t', occurred_at: '2026-11-28T03:00:00.000Z' });
    expect(typeof parsed.message).toBe('string');
    expect(parsed.machine).toBeUndefined();
  });

  test('an invalid time is a programming error, not a silent "Invalid Date"', () => {
    expect(() => buildOfflinePayload({ eventId: 'e', occurredAt: 'yesterday', machine })).toThrow(RangeError);
  });
});

describe('Telegram messages', () => {
  test('offline says Machine Offline with name, hostname and last seen in UTC', () => {
    const html = renderTelegramMessage(buildOfflinePayload({ eventId: 'e', occurredAt: '2026-11-28T03:02:15Z', machine }));
    expect(html.startsWith('🔴 <b>Machine Offline</b>')).toBe(true);
    expect(html).toContain('production-server');
    expect(html).toContain('prod-01.example.com');
    expect(html).toContain('2026-11-28 03:00:00 UTC');
    expectWellFormedTelegramHtml(html);
  });

  test('online says Machine Back Online with the downtime in a human form', () => {
    const html = renderTelegramMessage(
      buildOnlinePayload({ eventId: 'e', occurredAt: '2026-11-28T04:07:15Z', offlineSince: '2026-11-28T03:02:15Z', machine }),
    );
    expect(html.startsWith('🟢 <b>Machine Back Online</b>')).toBe(true);
    expect(html).toContain('production-server');
    expect(html).toContain('<b>Downtime:</b> 1h 5m');
    expectWellFormedTelegramHtml(html);
  });

  test('a machine that never reported shows last seen: never', () => {
    const html = renderTelegramMessage(buildOfflinePayload({ eventId: 'e', occurredAt: '2026-11-28T03:02:15Z', machine: { ...machine, last_seen: null, hostname: null } }));
    expect(html).toContain('<b>Last seen:</b> never');
    expect(html).not.toContain('Hostname');
  });

  test.each([
    [0, '0s'],
    [45, '45s'],
    [135, '2m 15s'],
    [3900, '1h 5m'],
    [3 * 86_400 + 4 * 3600 + 600, '3d 4h 10m'],
  ])('downtime of %i seconds reads %s', (seconds, text) => {
    expect(formatDowntime(seconds)).toBe(text);
  });

  test('names like <b>x</b> & "y" are escaped everywhere they appear', () => {
    const hostile = '<b>x</b> & "y"';
    const html = renderTelegramMessage(
      buildOfflinePayload({ eventId: 'e', occurredAt: '2026-11-28T03:02:15Z', machine: { ...machine, name: hostile, hostname: hostile, description: hostile } }),
    );
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt; &amp; &quot;y&quot;');
    expect(html).not.toContain(hostile);
    expectWellFormedTelegramHtml(html);
  });

  test('a 10,000-character description keeps the message under 4096 characters, cut cleanly', () => {
    const html = renderTelegramMessage(
      buildOfflinePayload({ eventId: 'e', occurredAt: '2026-11-28T03:02:15Z', machine: { ...machine, description: 'd'.repeat(10_000) } }),
    );
    expect(html.length).toBeLessThan(TELEGRAM_MESSAGE_LIMIT);
    expect(html).toContain('production-server');
    expect(html).toMatch(/d…<\/i>$/);
    expectWellFormedTelegramHtml(html);
  });

  test('every field at its worst (10,000 escapable characters, astral emoji) still fits and never splits an entity', () => {
    const worst = '&"<>😀'.repeat(2000);
    for (const payload of [
      buildOfflinePayload({ eventId: 'e', occurredAt: '2026-11-28T03:02:15Z', machine: { ...machine, name: worst, hostname: worst, description: worst } }),
      buildOnlinePayload({ eventId: 'e', occurredAt: '2026-11-28T03:02:15Z', offlineSince: '2026-11-20T03:02:15Z', machine: { ...machine, name: worst, hostname: worst, description: worst } }),
    ]) {
      const html = renderTelegramMessage(payload);
      expect(html.length).toBeLessThan(TELEGRAM_MESSAGE_LIMIT);
      expectWellFormedTelegramHtml(html);
      expect(html).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/); // no lone high surrogate
    }
  });

  test('the test message is plain, valid HTML', () => {
    const html = renderTelegramTestMessage();
    expect(html).toContain('LunaSentri');
    expectWellFormedTelegramHtml(html);
  });
});
