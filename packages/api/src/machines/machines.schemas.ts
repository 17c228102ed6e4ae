/** Limits that keep one row small whatever a client sends. */
export const NAME_MAX = 255;
export const HOSTNAME_MAX = 255;
export const DESCRIPTION_MAX = 10_000;

const name = { type: 'string', minLength: 1, maxLength: NAME_MAX, pattern: '\\S' } as const;
const hostname = { type: ['string', 'null'], maxLength: HOSTNAME_MAX } as const;
const description = { type: ['string', 'null'], maxLength: DESCRIPTION_MAX } as const;

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
