/**
 * Errors as plain data ({@link ErrorEnvelope}), to post between threads or print as JSON. The
 * way back is `rebuild.ts` ({@link fromEnvelope}).
 */
import { hasOffloopShape, isError, type Details } from './brand.ts';
import { ERROR_CODES, type ErrorCode } from './codes.ts';
import { MAX_DEPTH, splitFailure } from './suppressed.ts';

/** An error as plain data, safe to post between threads or print as JSON. */
export type ErrorEnvelope = {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: Details;
  readonly cause?: CauseEnvelope | ErrorEnvelope | undefined;
  /** Failures suppressed in this one's favour (see {@link OffloopError.suppressed}); absent when none. */
  readonly suppressed?: readonly (CauseEnvelope | ErrorEnvelope)[] | undefined;
};

/** A non-offloop cause (a PostgreSQL or Node error) as plain data. */
export type CauseEnvelope = {
  readonly name: string;
  readonly message: string;
  readonly code?: string | undefined;
  readonly stack?: string | undefined;
  readonly cause?: CauseEnvelope | ErrorEnvelope | undefined;
  readonly suppressed?: readonly (CauseEnvelope | ErrorEnvelope)[] | undefined;
};

/**
 * Turn an error into an envelope. An offloop error keeps its code; a `SuppressedError` or
 * `AggregateError` becomes its primary failure's envelope with the others in `suppressed`;
 * anything else becomes `INTERNAL_ERROR` with it as cause.
 */
export function toEnvelope(error: unknown): ErrorEnvelope {
  const described = describe(error, 0);
  if (isErrorEnvelope(described)) return described;
  const { suppressed, ...cause } = described;
  return {
    code: 'INTERNAL_ERROR',
    message: `Unexpected error: ${cause.message}`,
    details: {},
    cause,
    ...(suppressed === undefined ? {} : { suppressed }),
  };
}

function describe(value: unknown, depth: number): CauseEnvelope | ErrorEnvelope {
  const { primary, suppressed } = splitFailure(value, depth);
  const envelope = describeOne(primary, depth);
  return suppressed.length === 0 || depth >= MAX_DEPTH
    ? envelope
    : { ...envelope, suppressed: suppressed.map((failure) => describeOne(failure, depth + 1)) };
}

/** One failure as plain data, its causes followed, without its suppressed failures. */
function describeOne(value: unknown, depth: number): CauseEnvelope | ErrorEnvelope {
  const cause = (of: unknown) =>
    of === undefined || depth >= MAX_DEPTH ? undefined : describe(of, depth + 1);
  if (hasOffloopShape(value) && depth < MAX_DEPTH) {
    return {
      code: value.code,
      message: value.message,
      details: value.details,
      cause: cause(value.cause),
    };
  }
  if (isError(value) || value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      name: value.name,
      message: value.message,
      code: typeof code === 'string' ? code : undefined,
      stack: value.stack,
      cause: cause(value.cause),
    };
  }
  return { name: typeof value, message: String(value) };
}

export function isErrorEnvelope(value: CauseEnvelope | ErrorEnvelope): value is ErrorEnvelope {
  return 'details' in value && typeof value.code === 'string' && value.code in ERROR_CODES;
}
