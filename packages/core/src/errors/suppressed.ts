/**
 * Failures inside failures: a `SuppressedError` (a failure and the cleanup's after it) or an
 * `AggregateError`, split into the failure that counts and the ones suppressed in its favour.
 */
import { hasOffloopShape, isError } from './brand.ts';

/** How deep causes and suppressed failures are followed; deeper ones are cut off. */
export const MAX_DEPTH = 5;

function isSuppressedError(value: unknown): value is SuppressedError {
  return (
    value instanceof SuppressedError ||
    (isError(value) &&
      value.name === 'SuppressedError' &&
      'error' in value &&
      'suppressed' in value)
  );
}

function isAggregateError(value: unknown): value is AggregateError {
  return (
    value instanceof AggregateError ||
    (isError(value) &&
      value.name === 'AggregateError' &&
      Array.isArray((value as { errors?: unknown }).errors))
  );
}

/**
 * The failure that counts in `error`, and the failures suppressed in its favour in the order they
 * happened, one flat list. In a `SuppressedError` the original failure is `suppressed` and the one
 * raised while cleaning up is `error` (nested once per failing step); in an `AggregateError` the
 * first offloop error counts, else the first error; an error rebuilt from an envelope lists its
 * own in {@link OffloopError.suppressed}. Anything else is itself, with nothing suppressed.
 */
export function primaryFailure(error: unknown): {
  readonly primary: unknown;
  readonly suppressed: readonly unknown[];
} {
  return splitFailure(error, 0);
}

export function splitFailure(
  error: unknown,
  depth: number,
): { readonly primary: unknown; readonly suppressed: readonly unknown[] } {
  if (depth >= MAX_DEPTH) return { primary: error, suppressed: [] };
  const flat = (
    parts: readonly { readonly primary: unknown; readonly suppressed: readonly unknown[] }[],
  ) => parts.flatMap((part) => [part.primary, ...part.suppressed]);
  if (isSuppressedError(error)) {
    const original = splitFailure(error.suppressed, depth + 1);
    return {
      primary: original.primary,
      suppressed: [...original.suppressed, ...flat([splitFailure(error.error, depth + 1)])],
    };
  }
  if (isAggregateError(error) && error.errors.length > 0) {
    const errors: readonly unknown[] = error.errors;
    const parts = errors.map((part) => splitFailure(part, depth + 1));
    const chosen = Math.max(
      0,
      parts.findIndex((part) => hasOffloopShape(part.primary)),
    );
    return {
      primary: parts[chosen]?.primary,
      suppressed: [
        ...(parts[chosen]?.suppressed ?? []),
        ...flat(parts.filter((_, index) => index !== chosen)),
      ],
    };
  }
  const own = isError(error) ? (error as { suppressed?: unknown }).suppressed : undefined;
  return {
    primary: error,
    suppressed: Array.isArray(own)
      ? flat(own.map((part: unknown) => splitFailure(part, depth + 1)))
      : [],
  };
}

/**
 * Apply `map` to each failure inside `error`, keeping the structure: the parts of a
 * `SuppressedError` or `AggregateError` (nested too) are mapped and rebuilt around, any other
 * error is mapped as a whole. A whole that `map` changes is taken as one failure. For turning a
 * driver's errors into offloop errors without losing the original failure or its cleanup's.
 */
export function mapFailures(error: unknown, map: (failure: unknown) => unknown): unknown {
  return mapEach(error, map, 0);
}

function mapEach(error: unknown, map: (failure: unknown) => unknown, depth: number): unknown {
  const whole = map(error);
  if (whole !== error || depth >= MAX_DEPTH) return whole;
  if (isSuppressedError(error)) {
    const cleanup = mapEach(error.error, map, depth + 1);
    const original = mapEach(error.suppressed, map, depth + 1);
    return cleanup === error.error && original === error.suppressed
      ? error
      : new SuppressedError(cleanup, original, error.message);
  }
  if (isAggregateError(error)) {
    const errors: readonly unknown[] = error.errors;
    const parts = errors.map((part) => mapEach(part, map, depth + 1));
    return parts.every((part, index) => part === errors[index])
      ? error
      : new AggregateError(
          parts,
          error.message,
          error.cause === undefined ? undefined : { cause: error.cause },
        );
  }
  return error;
}
