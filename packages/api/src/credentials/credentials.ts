import { hash, randomBytes } from 'node:crypto';

/** Machine API keys (what agents send). */
export const MACHINE_KEY_PREFIX = 'lsk_';
/** Personal API tokens (what users send). */
export const USER_TOKEN_PREFIX = 'lst_';

/** 32 random bytes: a key or token is never guessable, whatever the prefix gives away. */
const SECRET_BYTES = 32;

function newSecret(prefix: string): string {
  return prefix + randomBytes(SECRET_BYTES).toString('base64url');
}

export function newMachineKey(): string {
  return newSecret(MACHINE_KEY_PREFIX);
}

export function newUserToken(): string {
  return newSecret(USER_TOKEN_PREFIX);
}

/**
 * What is stored for a key or token: its SHA-256 in hex. A fast hash is enough here (unlike for
 * passwords) because the input carries 256 bits of randomness; brute force is hopeless either way.
 */
export function hashCredential(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** A dashboard session's cookie value: 32 random bytes, stored only as {@link hashCredential}. */
export function newSessionSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** A status page's public address: 144 random bits (base64url, 24 characters), unguessable yet short to share. */
export function newStatusSlug(): string {
  return randomBytes(18).toString('base64url');
}
