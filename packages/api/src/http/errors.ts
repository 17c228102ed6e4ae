import { QuietInputError } from '@lunasentri/shared';

/**
 * A public error: its message and code go to the client as `{"error": message, "code": code}`.
 * Codes are `<area>.<reason>` and stable; messages are for humans and never carry a secret.
 */
export class ApiError extends Error {
  override name = 'ApiError';

  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (area: string, what: string = area): ApiError => new ApiError(404, `${area}.not_found`, `${what} not found`);

export interface ErrorBody {
  error: string;
  code: string;
}

/**
 * Runs a parse of the quiet rules (`@lunasentri/shared` quiet/) and turns its `QuietInputError` into
 * a 400 `<area>.invalid_payload` carrying the rule's own message (it names the field and the value).
 */
export function parsedOrBadRequest<T>(area: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof QuietInputError) throw new ApiError(400, `${area}.invalid_payload`, error.message);
    throw error;
  }
}
