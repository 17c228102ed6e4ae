import { createHmac, randomBytes } from 'node:crypto';

const WHSEC_PREFIX = 'whsec_';
// Strict standard base64: the standardwebhooks library decodes strictly, so a key Node would decode
// leniently could sign with bytes the consumer's library never derives.
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The headers that authenticate one delivery attempt (CONTRACT §4.1). */
export interface WebhookSignatureHeaders {
  /** `sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret's UTF-8 bytes>` */
  'X-Webhook-Signature': string;
  'webhook-id': string;
  /** unix seconds of this attempt */
  'webhook-timestamp': string;
  /** `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` */
  'webhook-signature': string;
}

/** Outcome of {@link validateWebhookSecret}. */
export type SecretCheck = { ok: true } | { ok: false; code: 'webhook.invalid_secret'; error: string };

/**
 * Checks that a secret can sign: non-empty, and for `whsec_` secrets a non-empty strict standard
 * base64 key after the prefix (what Standard Webhooks consumers decode). Any other string is used
 * as its UTF-8 bytes. The error text never repeats the secret.
 */
export function validateWebhookSecret(secret: string): SecretCheck {
  if (secret === '') return { ok: false, code: 'webhook.invalid_secret', error: 'webhook secret is empty' };
  if (secret.startsWith(WHSEC_PREFIX)) {
    const key = secret.slice(WHSEC_PREFIX.length);
    if (key === '' || !STRICT_BASE64.test(key)) {
      return { ok: false, code: 'webhook.invalid_secret', error: 'a whsec_ webhook secret must be followed by standard base64' };
    }
  }
  return { ok: true };
}

/** A secret a user chooses must be hard to guess: at least this many characters… */
export const PLAIN_SECRET_MIN_CHARS = 16;
/** …or, for a `whsec_` secret, this many key bytes after decoding (generated ones have 32). */
export const WHSEC_SECRET_MIN_BYTES = 24;

/**
 * What a new or changed secret must meet: {@link validateWebhookSecret} plus a minimum strength.
 * Signing only needs the former, so secrets stored before a stricter rule keep delivering.
 * The error never repeats the secret.
 */
export function checkNewWebhookSecret(secret: string): SecretCheck {
  const check = validateWebhookSecret(secret);
  if (!check.ok) return check;
  if (secret.startsWith(WHSEC_PREFIX)) {
    // Already strict base64, so the decoded length is exact.
    const bytes = standardWebhooksKey(secret).length;
    if (bytes < WHSEC_SECRET_MIN_BYTES) {
      return { ok: false, code: 'webhook.invalid_secret', error: `a whsec_ webhook secret must decode to at least ${WHSEC_SECRET_MIN_BYTES} bytes (it has ${bytes})` };
    }
  } else if (secret.length < PLAIN_SECRET_MIN_CHARS) {
    return { ok: false, code: 'webhook.invalid_secret', error: `webhook secret must be at least ${PLAIN_SECRET_MIN_CHARS} characters long` };
  }
  return { ok: true };
}

/** The Standard Webhooks key: the decoded base64 after `whsec_`, else the secret's UTF-8 bytes. */
function standardWebhooksKey(secret: string): Buffer {
  return secret.startsWith(WHSEC_PREFIX) ? Buffer.from(secret.slice(WHSEC_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

/**
 * Signs one attempt both ways CONTRACT §4.1 requires. `X-Webhook-Signature` is always keyed with
 * the secret's UTF-8 bytes (the original scheme, `whsec_` prefix included); `webhook-signature`
 * follows Standard Webhooks keying. `body` must be the exact bytes sent. Throws a `TypeError` on a
 * secret {@link validateWebhookSecret} rejects.
 */
export function signWebhook(input: { secret: string; eventId: string; timestampSeconds: number; body: string }): WebhookSignatureHeaders {
  const check = validateWebhookSecret(input.secret);
  if (!check.ok) throw new TypeError(check.error);
  const timestamp = String(Math.floor(input.timestampSeconds));
  const legacy = createHmac('sha256', Buffer.from(input.secret, 'utf8')).update(input.body, 'utf8').digest('hex');
  const standard = createHmac('sha256', standardWebhooksKey(input.secret)).update(`${input.eventId}.${timestamp}.${input.body}`, 'utf8').digest('base64');
  return {
    'X-Webhook-Signature': `sha256=${legacy}`,
    'webhook-id': input.eventId,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${standard}`,
  };
}

/** A new secret in the Standard Webhooks format: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${WHSEC_PREFIX}${randomBytes(32).toString('base64')}`;
}
