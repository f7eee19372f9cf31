/**
 * How an offloop error is recognised without its class: the brand every offloop error carries,
 * and the shape (a known `code`, a `message`, a `details` object). The envelope and suppressed
 * helpers recognise errors through this, so they need not import the class that uses them.
 */
import { ERROR_CODES, type ErrorCode } from './codes.ts';

/** JSON-like data: what `details` may hold so that it survives structured clone and `--json`. */
export type Serializable =
  | string
  | number
  | boolean
  | null
  | readonly Serializable[]
  | { readonly [key: string]: Serializable | undefined };

/**
 * The brand of offloop errors, on {@link OffloopError}'s prototype. `Symbol.for` is one registry
 * for every realm of a thread, so an error from another copy of this package (a duplicate
 * install) or from a `vm` context carries the same brand: see `isOffloopError` (base.ts).
 */
export const OFFLOOP_ERROR: unique symbol = Symbol.for('offloop.error');

/** The details of an error that carries no particular facts. */
export type Details = { readonly [key: string]: Serializable | undefined };

// `Error.isError` (Node 24) recognises errors of every realm, where `instanceof Error` sees only
// this one's; TypeScript's es2024 library does not declare it yet.
export const isError = (value: unknown): value is Error =>
  (Error as ErrorConstructor & { isError(value: unknown): value is Error }).isError(value);

/** What an offloop error looks like from outside its class. */
export type OffloopErrorShape = Error & {
  readonly code: ErrorCode;
  readonly details: Details;
  readonly suppressed?: readonly Error[];
};

/**
 * True when `value` has an offloop error's shape: an error (of any realm) or a value carrying
 * offloop's brand, with a known `code`, a `message` and a `details` object.
 */
export function hasOffloopShape(value: unknown): value is OffloopErrorShape {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as { [OFFLOOP_ERROR]?: unknown })[OFFLOOP_ERROR] !== true && !isError(value))
    return false;
  const { code, message, details } = value as {
    code?: unknown;
    message?: unknown;
    details?: unknown;
  };
  return (
    typeof code === 'string' &&
    Object.hasOwn(ERROR_CODES, code) &&
    typeof message === 'string' &&
    typeof details === 'object' &&
    details !== null
  );
}
