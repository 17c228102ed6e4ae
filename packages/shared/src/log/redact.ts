/**
 * Keeps secrets out of text that leaves the process (log lines, error messages, API errors).
 * Known shapes are masked by pattern; secrets that have no recognisable shape (a webhook secret
 * chosen by a user, a bot token passed around) are registered with {@link Redactor.add}.
 */
export interface Redactor {
  /** Registers an exact secret value to mask wherever it appears. Values shorter than 6 characters are ignored. */
  add(secret: string | undefined | null): void;
  /** Returns `text` with every known secret masked. */
  redact(text: string): string;
}

export const REDACTED = '[redacted]';

const PATTERNS: Array<[RegExp, string]> = [
  // Telegram Bot API paths: https://api.telegram.org/bot<id>:<token>/sendMessage
  [/bot\d+:[A-Za-z0-9_-]+/g, `bot${REDACTED}`],
  // A bare bot token: <numeric id>:<35-ish url-safe chars>
  [/\b\d{5,}:[A-Za-z0-9_-]{20,}/g, REDACTED],
  // Standard Webhooks secrets
  [/whsec_[A-Za-z0-9+/=_-]+/g, `whsec_${REDACTED}`],
  // Authorization headers and the like
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/\b(x-api-key|api[_-]?key|token|secret|password)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi, `$1$2${REDACTED}`],
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Creates a redactor; `secrets` are registered at once. */
export function createRedactor(secrets: Array<string | undefined | null> = []): Redactor {
  const exact = new Set<string>();
  let exactPattern: RegExp | null = null;
  const rebuild = () => {
    const variants = new Set<string>();
    for (const secret of exact) {
      variants.add(secret);
      variants.add(JSON.stringify(secret).slice(1, -1)); // as it appears inside JSON text
      variants.add(encodeURIComponent(secret));
    }
    const sorted = [...variants].sort((a, b) => b.length - a.length).map(escapeRegExp);
    exactPattern = sorted.length > 0 ? new RegExp(sorted.join('|'), 'g') : null;
  };
  let stale = false;
  const redactor: Redactor = {
    add(secret) {
      if (!secret || secret.length < 6 || exact.has(secret)) return;
      exact.add(secret);
      // Rebuilt on the next redact, not here: registering many secrets in a row stays linear.
      stale = true;
    },
    redact(text) {
      if (stale) {
        rebuild();
        stale = false;
      }
      let out = exactPattern ? text.replace(exactPattern, REDACTED) : text;
      for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
      return out;
    },
  };
  for (const secret of secrets) redactor.add(secret);
  return redactor;
}
