/** Payloads of every machine event kind, and checks on Telegram HTML, for the notifier's tests. */
import {
  buildOfflinePayload,
  buildOnlinePayload,
  type MachineFlappingEndedPayload,
  type MachineFlappingPayload,
  type MachineNotificationPayload,
  type MachineSnapshot,
  type MachineStillOfflinePayload,
} from '@lunasentri/shared';

export const LAST_SEEN = '2026-11-28T03:00:00.000Z';

export function machine(id: number, fields: Partial<MachineSnapshot> = {}): MachineSnapshot {
  return { id, name: `web-${id}`, hostname: `web-${id}.example.com`, description: null, status: 'offline', last_seen: LAST_SEEN, ...fields };
}

export const offline = (id: number, fields: Partial<MachineSnapshot> = {}) =>
  buildOfflinePayload({ eventId: `off-${id}`, occurredAt: '2026-11-28T03:02:15Z', machine: machine(id, fields) });

export const online = (id: number, fields: Partial<MachineSnapshot> = {}) =>
  buildOnlinePayload({ eventId: `on-${id}`, occurredAt: '2026-11-28T03:04:30Z', offlineSince: '2026-11-28T03:02:15Z', machine: machine(id, fields) });

export const stillOffline = (id: number, reminder = 1): MachineStillOfflinePayload => ({
  event: 'machine.still_offline',
  event_id: `still-${id}-${reminder}`,
  occurred_at: '2026-11-28T04:07:15.000Z',
  machine: machine(id),
  offline_since: '2026-11-28T03:02:15.000Z',
  downtime_seconds: 3900,
  reminder,
});

export const flapping = (id: number, status: 'online' | 'offline' = 'offline'): MachineFlappingPayload => ({
  event: 'machine.flapping',
  event_id: `flap-${id}`,
  occurred_at: '2026-11-28T03:30:00.000Z',
  machine: machine(id, { status }),
  transitions: 5,
  window_seconds: 1800,
});

export const flappingEnded = (id: number, status: 'online' | 'offline'): MachineFlappingEndedPayload => ({
  event: 'machine.flapping_ended',
  event_id: `settled-${id}`,
  occurred_at: '2026-11-28T03:40:00.000Z',
  machine: machine(id, { status }),
});

/** An event type a newer daemon might write; this version must still render it. */
export const unknown = (id: number) => ({ ...offline(id), event: 'machine.renamed', event_id: `new-${id}` }) as unknown as MachineNotificationPayload;

/** Telegram HTML stays well-formed: only our tags, balanced, every `&` starts a known entity, no half of a surrogate pair. */
export function expectWellFormedTelegramHtml(html: string): void {
  const tags = [...html.matchAll(/<\/?([a-z]+)>/g)];
  expect(tags.every((t) => ['b', 'i', 'code'].includes(t[1]!))).toBe(true);
  const stack: string[] = [];
  for (const [tag, name] of tags) {
    if (tag.startsWith('</')) expect(stack.pop()).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
  expect(html.replace(/<\/?[a-z]+>/g, '')).not.toMatch(/[<>"]/);
  expect(html).not.toMatch(/&(?!amp;|lt;|gt;|quot;)/);
  expect(html).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/); // no lone surrogate
}
