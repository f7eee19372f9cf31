/** `value` as an `Error`: itself when it is one, else an error with its text. */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** The message of a caught value: an `Error`'s own message, else the value as text. */
export function messageOf(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
