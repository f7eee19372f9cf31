/**
 * Every failure offloop reports is an {@link OffloopError} subclass with a stable `code`.
 *
 * Codes come from one table ({@link ERROR_CODES}) so the types cannot drift, and each one has an
 * entry in `docs/errors.md`. Errors cross the worker-thread boundary as plain
 * {@link ErrorEnvelope}s and are rebuilt on the host as the same class, with the same `code` and
 * `details` ({@link toEnvelope}, {@link fromEnvelope}): structured clone keeps only an error's
 * message, stack and cause. A cleanup failure never hides the original failure: a
 * `SuppressedError` (or `AggregateError`) travels as its primary failure, with the others in
 * {@link OffloopError.suppressed}.
 */
import { hasOffloopShape, OFFLOOP_ERROR, type Serializable } from './brand.ts';
import type { ErrorCode } from './codes.ts';
import { toEnvelope, type ErrorEnvelope } from './envelope.ts';

export type { Details, Serializable } from './brand.ts';

/** Where in a migration file something happened. Lines and columns are 1-based. */
export type SourceLocation = {
  /** Path of the file relative to the migrations directory. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
};

/** Options of an offloop error's constructor: the `cause`, and failures suppressed in its favour. */
export type OffloopErrorOptions = ErrorOptions & {
  /** Failures that came after this one while cleaning up; see {@link OffloopError.suppressed}. */
  readonly suppressed?: readonly Error[] | undefined;
};

/** Base class of every error offloop throws. Check `error.code`, not the message. */
export abstract class OffloopError<
  C extends ErrorCode = ErrorCode,
  D extends { readonly [key: string]: Serializable | undefined } = {
    readonly [key: string]: Serializable | undefined;
  },
> extends Error {
  /** The stable code; see `docs/errors.md`. */
  abstract readonly code: C;
  /** Serialisable facts about the failure: files, versions, SQLSTATE, results so far. */
  readonly details: D;
  /**
   * Failures that came after this one, while cleaning up after it (releasing the lock, closing a
   * connection), and were suppressed so as not to hide it, in the order they happened; absent
   * when there were none. A `SuppressedError` (or `AggregateError`) raised in the worker arrives
   * on the host as its primary failure, with the others here (as Java's `getSuppressed()`).
   */
  declare readonly suppressed?: readonly Error[];

  constructor(message: string, details: D, options?: OffloopErrorOptions) {
    super(message, options);
    this.details = details;
    if (options?.suppressed !== undefined && options.suppressed.length > 0)
      this.suppressed = Object.freeze([...options.suppressed]);
  }

  override get name(): string {
    return this.constructor.name;
  }

  /** The brand {@link isOffloopError} recognises across realms and copies of this package. */
  get [OFFLOOP_ERROR](): true {
    return true;
  }

  /** The error as plain data, as `--json` prints it. */
  toJSON(): ErrorEnvelope {
    return toEnvelope(this);
  }
}

/**
 * True when `value` is an offloop error, also across realms, by shape: an instance of this copy's
 * class, or an error from a `vm` context or another copy of this package (a duplicate install)
 * that carries offloop's brand or is a native error, with a known `code`, a `message` and a
 * `details` object. An {@link ErrorEnvelope} is data, not an error: use {@link fromEnvelope}.
 */
export function isOffloopError(value: unknown): value is OffloopError {
  return value instanceof OffloopError || hasOffloopShape(value);
}
