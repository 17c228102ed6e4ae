/**
 * Bad input to a quiet-alert rule (a maintenance window, a snooze, a reminder preference). The API
 * answers it with 400 `<area>.invalid_payload` (`maintenance.invalid_payload`, …) and the message as
 * is: messages name the field and the value and never carry a secret.
 */
export class QuietInputError extends Error {
  override name = 'QuietInputError';

  constructor(
    /** Where in the request body the problem is: `ends_at`, `recurrence.weekdays[1]`, `for`. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
