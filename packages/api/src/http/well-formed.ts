import { findIllFormedString } from '@lunasentri/shared';

/**
 * Only a `\uD800`–`\uDFFF` escape can put a lone surrogate into parsed JSON: the body text itself was
 * decoded from UTF-8, where invalid bytes became U+FFFD. Bodies without one (every Go agent report)
 * skip the walk.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** Keep a client's keys, or its nesting, from filling the error message. */
const SEGMENT_MAX = 64;
const DEPTH_SHOWN = 16;

/**
 * The refusal of a parsed JSON body holding a string with a lone surrogate, on every route: shaped
 * as a schema violation, so it answers 400 `<area>.invalid_payload` naming the field, and a refused
 * agent report still records its machine's `last_seen` like any other refused body.
 */
export function illFormedBodyError(text: string, value: unknown): Error | undefined {
  if (!SURROGATE_ESCAPE.test(text)) return undefined;
  const found = findIllFormedString(value);
  if (!found) return undefined;
  const shown = found.path.slice(0, DEPTH_SHOWN).map((segment) => String(segment).slice(0, SEGMENT_MAX));
  if (found.path.length > DEPTH_SHOWN) shown.push('…');
  const instancePath = shown.map((segment) => `/${segment}`).join('');
  const message = found.inKey ? 'has a field name with an unpaired UTF-16 surrogate' : 'must not contain an unpaired UTF-16 surrogate';
  return Object.assign(new Error(message), {
    statusCode: 400,
    validationContext: 'body',
    validation: [{ keyword: 'wellFormed', instancePath, schemaPath: '', params: {}, message }],
  });
}
