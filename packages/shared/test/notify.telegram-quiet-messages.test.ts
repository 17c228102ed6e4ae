import { renderTelegramMessage, TELEGRAM_MESSAGE_LIMIT, type MachineNotificationPayload } from '@lunasentri/shared';
import { expectWellFormedTelegramHtml, flapping, flappingEnded, LAST_SEEN, machine, offline, online, stillOffline, unknown } from './notify.telegram-fixtures';

describe('Telegram messages for reminders, flapping and unknown events', () => {
  test.each<[string, MachineNotificationPayload, string]>([
    [
      'a reminder says Still Offline with downtime and its number',
      stillOffline(1, 2),
      '⏰ <b>Still Offline</b>\n\n<b>Machine:</b> web-1\n<b>Hostname:</b> <code>web-1.example.com</code>\n' +
        '<b>Offline for:</b> 1h 5m (since 2026-11-28 03:02:15 UTC)\n<b>Reminder:</b> 2',
    ],
    [
      'flapping says Machine Flapping with the count, the window and the status now',
      flapping(1, 'online'),
      '🟡 <b>Machine Flapping</b>\n\n<b>Machine:</b> web-1\n<b>Hostname:</b> <code>web-1.example.com</code>\n' +
        '<b>Status changes:</b> 5 in 30m 0s\n<b>Now:</b> online\nFurther changes are not announced until it keeps one status.',
    ],
    [
      'settling online is green and says stopped flapping',
      flappingEnded(1, 'online'),
      '🟢 <b>Online, stopped flapping</b>\n\n<b>Machine:</b> web-1\n<b>Hostname:</b> <code>web-1.example.com</code>\n' +
        'Alerts for this machine are back to normal.',
    ],
    [
      'settling offline is red, says stopped flapping and when it was last seen',
      flappingEnded(1, 'offline'),
      '🔴 <b>Offline, stopped flapping</b>\n\n<b>Machine:</b> web-1\n<b>Hostname:</b> <code>web-1.example.com</code>\n' +
        '<b>Last seen:</b> 2026-11-28 03:00:00 UTC\nAlerts for this machine are back to normal.',
    ],
    [
      'an unknown event type is a neutral notice naming the event and machine',
      unknown(1),
      'ℹ️ <b>Machine Notification</b>\n\n<b>Event:</b> <code>machine.renamed</code>\n<b>Machine:</b> web-1\n<b>Hostname:</b> <code>web-1.example.com</code>',
    ],
    [
      'an unknown event without a machine still renders',
      { event: 'machine.<future>', event_id: 'x', occurred_at: LAST_SEEN } as unknown as MachineNotificationPayload,
      'ℹ️ <b>Machine Notification</b>\n\n<b>Event:</b> <code>machine.&lt;future&gt;</code>',
    ],
  ])('%s', (_name, payload, expected) => {
    expect(renderTelegramMessage(payload)).toBe(expected);
    expectWellFormedTelegramHtml(expected);
  });

  test('the offline and online messages keep their exact §4.2 text', () => {
    expect(renderTelegramMessage(offline(1, { description: 'Main API server' }))).toBe(
      '🔴 <b>Machine Offline</b>\n\n<b>Machine:</b> web-1\n<b>Hostname:</b> <code>web-1.example.com</code>\n' +
        '<b>Last seen:</b> 2026-11-28 03:00:00 UTC\n\n<i>Main API server</i>',
    );
    expect(renderTelegramMessage(online(1, { hostname: null }))).toBe(
      '🟢 <b>Machine Back Online</b>\n\n<b>Machine:</b> web-1\n<b>Downtime:</b> 2m 15s (offline since 2026-11-28 03:02:15 UTC)',
    );
  });

  test('quiet alerts escape hostile names and stay under the limit however long they are', () => {
    const worst = '&"<>😀'.repeat(2000);
    const fields = { name: worst, hostname: worst, description: worst };
    for (const payload of [
      { ...stillOffline(1), machine: machine(1, fields) },
      { ...flapping(1), machine: machine(1, fields) },
      { ...flappingEnded(1, 'offline'), machine: machine(1, fields) },
      { ...flappingEnded(1, 'online'), machine: machine(1, { ...fields, status: 'online' }) },
    ]) {
      const html = renderTelegramMessage(payload);
      expect(html.length).toBeLessThan(TELEGRAM_MESSAGE_LIMIT);
      expectWellFormedTelegramHtml(html);
    }
  });
});
