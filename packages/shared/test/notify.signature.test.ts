import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, signWebhook, validateWebhookSecret } from '@lunasentri/shared';

const body = '{"event":"machine.offline","event_id":"evt_1"}';
const now = new Date();
const ts = Math.floor(now.getTime() / 1000);

describe('webhook signatures', () => {
  test('a whsec_ secret signs so the standardwebhooks library verifies it', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook({ secret, eventId: 'evt_1', timestampSeconds: ts, body });
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(headers['webhook-id']).toBe('evt_1');
    expect(headers['webhook-timestamp']).toBe(String(ts));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });

  test('a plain secret keys Standard Webhooks with its UTF-8 bytes', () => {
    const secret = 'my plain sécret';
    const headers = signWebhook({ secret, eventId: 'evt_1', timestampSeconds: ts, body });
    expect(() => new Webhook(Buffer.from(secret, 'utf8').toString('base64')).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' }).verify(body, headers)).not.toThrow();
  });

  test('X-Webhook-Signature is the hex HMAC of the raw body keyed with the whole secret, whsec_ included', () => {
    for (const secret of [generateWebhookSecret(), 'plain-secret']) {
      const headers = signWebhook({ secret, eventId: 'evt_1', timestampSeconds: ts, body });
      expect(headers['X-Webhook-Signature']).toBe(`sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex')}`);
    }
  });

  test('the signature covers id, timestamp and body: changing any of them fails verification', () => {
    const secret = generateWebhookSecret();
    const headers = signWebhook({ secret, eventId: 'evt_1', timestampSeconds: ts, body });
    const wh = new Webhook(secret);
    expect(() => wh.verify(body.replace('offline', 'online'), headers)).toThrow();
    expect(() => wh.verify(body, { ...headers, 'webhook-id': 'evt_2' })).toThrow();
    expect(() => wh.verify(body, { ...headers, 'webhook-timestamp': String(ts - 1) })).toThrow();
  });

  test('generated secrets are whsec_ plus 32 random bytes', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(a);
  });

  test('a whsec_ secret that is not base64 is refused without repeating it', () => {
    const bad = 'whsec_not*base64!!';
    const check = validateWebhookSecret(bad);
    expect(check).toMatchObject({ ok: false, code: 'webhook.invalid_secret' });
    expect(JSON.stringify(check)).not.toContain('not*base64');
    expect(() => signWebhook({ secret: bad, eventId: 'e', timestampSeconds: ts, body })).toThrow(TypeError);
    expect(validateWebhookSecret('')).toMatchObject({ ok: false });
    expect(validateWebhookSecret('anything else')).toEqual({ ok: true });
  });
});
