/** Limits that keep one row small whatever a client sends. */
export const NAME_MAX = 255;
export const HOSTNAME_MAX = 255;
export const DESCRIPTION_MAX = 10_000;

/**
 * No C0 control characters and no DEL: a name with a newline in it would forge log lines (names are
 * logged) and break alert layouts. Descriptions may hold tabs.
 */
export const NO_CONTROLS = '^[^\\u0000-\\u001f\\u007f]*$';
export const NO_CONTROLS_BUT_TAB = '^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$';
const NAME_PATTERN = '^[^\\u0000-\\u001f\\u007f]*[^\\s\\u0000-\\u001f\\u007f][^\\u0000-\\u001f\\u007f]*$';

/** What a failed `pattern` means, for the 400 message (ajv would print the regular expression). */
export const PATTERN_MESSAGES: Record<string, string> = {
  [NO_CONTROLS]: 'must not contain control characters',
  [NO_CONTROLS_BUT_TAB]: 'must not contain control characters (other than tab)',
  [NAME_PATTERN]: 'must not be blank or contain control characters',
};

/** The first control character the pattern forbids, or -1 (for the CLI, which has no schema). */
export function controlCharacterAt(value: string, allowTab: boolean): number {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && !(allowTab && code === 0x09)) || code === 0x7f) return i;
  }
  return -1;
}

const name = { type: 'string', minLength: 1, maxLength: NAME_MAX, pattern: NAME_PATTERN } as const;
const hostname = { type: ['string', 'null'], maxLength: HOSTNAME_MAX, pattern: NO_CONTROLS } as const;
const description = { type: ['string', 'null'], maxLength: DESCRIPTION_MAX, pattern: NO_CONTROLS_BUT_TAB } as const;

export const registerBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name, hostname, description },
} as const;

export const patchBodySchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { name, hostname, description },
} as const;

export interface RegisterBody {
  name: string;
  hostname?: string | null;
  description?: string | null;
}

export type PatchBody = Partial<RegisterBody>;
