/**
 * What a driver error means: the PostgreSQL error behind it ({@link findPgError}), a failure to
 * connect or a lost connection ({@link asDatabaseUnavailable}), PostgreSQL refusing one of
 * offloop's own queries ({@link asDatabaseError}). By SQLSTATE and Node's error codes; by message
 * only for what the `pg` driver throws with no code at all.
 */
import { redactUrl } from '../../config/connection-url.ts';
import type { ResolvedConfig } from '../../config/config.ts';
import {
  DatabaseError,
  DatabaseUnavailableError,
  mapFailures,
  OffloopError,
  ownQueryMessage,
} from '../../errors/index.ts';

/** The PostgreSQL error behind a slonik error, found by walking `cause`. */
export type PgErrorInfo = {
  readonly sqlstate: string;
  readonly message: string;
  /** 1-based character position within the statement, when PostgreSQL gave one. */
  readonly position: number | null;
  readonly detail: string | null;
  readonly hint: string | null;
};

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Find the PostgreSQL error (one with a SQLSTATE `code`) in an error's cause chain. */
export function findPgError(error: unknown): PgErrorInfo | null {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current instanceof Error; depth += 1) {
    const candidate = current as Error & {
      code?: unknown;
      position?: unknown;
      detail?: unknown;
      hint?: unknown;
    };
    if (
      !(current instanceof OffloopError) &&
      typeof candidate.code === 'string' &&
      SQLSTATE.test(candidate.code)
    ) {
      const position = Number(candidate.position);
      return {
        sqlstate: candidate.code,
        message: candidate.message,
        position: Number.isInteger(position) && position > 0 ? position : null,
        detail:
          typeof candidate.detail === 'string' && candidate.detail !== '' ? candidate.detail : null,
        hint: typeof candidate.hint === 'string' && candidate.hint !== '' ? candidate.hint : null,
      };
    }
    current = current.cause;
  }
  return null;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
// SQLSTATE classes and codes that mean "could not get a usable session": connection exceptions,
// authentication, unknown database, server starting or shutting down.
const UNAVAILABLE_SQLSTATE = /^(08...|28...|3D000|57P0[1-3]|53300)$/;
const LOST_SQLSTATE = /^57P0[12]$/;
// What the pg driver throws, without a code, when a connection cannot be made or is lost.
// `lost`: the connection was made and then closed, which is not "cannot connect".
const DRIVER_MESSAGES: readonly (readonly [
  RegExp,
  (message: string) => string,
  { lost?: boolean }?,
])[] = [
  [
    /^timeout expired$|connection timeout/i,
    () => 'no connection within --connect-timeout (connectTimeout)',
  ],
  [
    /^Connection terminated/i,
    (message) => `the server closed the connection (${message})`,
    { lost: true },
  ],
  [
    /client password must be a string|SASL: .*password/i,
    () =>
      'the server asks for a password, and none was given: not in the URL (user:password@host), ' +
      'PGPASSWORD, or a ~/.pgpass line (mode 0600)',
  ],
  // sslmode=require (or verify-*) against a server without SSL.
  [
    /server does not support SSL/i,
    () =>
      'the server does not support SSL, and the URL asks for it (sslmode); connect without SSL ' +
      'only on a network you trust: sslmode=disable',
  ],
  // slonik reads sslcert, sslkey and sslrootcert files while it opens the pool.
  [
    /^Failed to read SSL .*file|sslcert and sslkey must be provided together/i,
    (message) => `the SSL files the URL names cannot be used: ${message}`,
  ],
];
// TLS failures, by Node's code: OpenSSL's verification results (DEPTH_ZERO_SELF_SIGNED_CERT,
// CERT_HAS_EXPIRED, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, ...), a host name that the certificate does
// not name (ERR_TLS_CERT_ALTNAME_INVALID), and handshake failures (ERR_SSL_*, EPROTO).
const TLS_CERTIFICATE_CODE = /CERT|SIGNATURE|ISSUER|^HOSTNAME_MISMATCH$/;
const TLS_HANDSHAKE_CODE = /^(ERR_TLS_|ERR_SSL_|EPROTO$)/;

function tlsReason(code: string, message: string): string | null {
  // Node's own hint ("try running Node.js with --use-system-ca") is folded into ours.
  const what = `${message.replace(/; if the root CA is installed locally.*$/, '')} (${code})`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') {
    return (
      `the server's SSL certificate is not for this host name: ${what}. Connect by a name the ` +
      'certificate holds, or encrypt without checking with sslmode=no-verify'
    );
  }
  if (TLS_CERTIFICATE_CODE.test(code)) {
    return (
      `the server's SSL certificate was not accepted: ${what}. sslmode=require and verify-full ` +
      "check it against Node's CA certificates: add the server's CA with " +
      'NODE_EXTRA_CA_CERTS=<file> (or node --use-system-ca), or encrypt without checking with ' +
      'sslmode=no-verify'
    );
  }
  return TLS_HANDSHAKE_CODE.test(code) ? `the SSL handshake failed: ${what}` : null;
}

/** Map a failure to connect to {@link DatabaseUnavailableError}; other errors pass through. */
export function asDatabaseUnavailable(error: unknown, url: string): unknown {
  if (error instanceof OffloopError) return error;
  const pg = findPgError(error);
  let reason: string | null = null;
  let lost = false;
  if (pg !== null && UNAVAILABLE_SQLSTATE.test(pg.sqlstate)) {
    reason = pg.message;
    // A session ended by the server (terminated, the server shutting down or crashing) was made
    // first: it was lost, not refused. 57P03 ("cannot connect now") is a refusal.
    lost = LOST_SQLSTATE.test(pg.sqlstate);
  }
  for (
    let current: unknown = error, depth = 0;
    reason === null && current instanceof Error && depth < 10;
    depth += 1
  ) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') reason = tlsReason(code, current.message);
    if (
      reason === null &&
      ((typeof code === 'string' && NETWORK_CODES.has(code)) || current.name === 'ConnectionError')
    )
      reason = current.message;
    for (const [pattern, describe, flags] of DRIVER_MESSAGES) {
      if (reason !== null || !pattern.test(current.message)) continue;
      reason = describe(current.message);
      lost = flags?.lost === true;
    }
    current = current.cause;
  }
  if (reason === null) return error;
  const what = lost ? 'Lost the connection to' : 'Cannot connect to';
  return new DatabaseUnavailableError(
    `${what} ${redactUrl(url)}: ${reason}`,
    { url: redactUrl(url), sqlstate: pg?.sqlstate ?? null },
    { cause: error },
  );
}

/** What to do about a SQLSTATE PostgreSQL gave for one of offloop's own queries. */
const DATABASE_ADVICE: Readonly<Record<string, string>> = {
  '42501':
    'The role needs the right to create the version and log tables in their schema (CREATE on ' +
    'the schema) and to read and write them once they exist; grant them, or pick a schema the ' +
    'role owns with --schema (schema)',
  '25006':
    'The server is read-only (a standby, or default_transaction_read_only): point the URL at the ' +
    'primary',
  '3F000':
    'The schema of the version table does not exist: create it first, or pick another with ' +
    '--schema (schema)',
};

/**
 * Map a PostgreSQL error from offloop's own queries (a migration's failures are already typed)
 * to {@link DatabaseError}; other errors pass through.
 */
function asDatabaseError(error: unknown, url: string): unknown {
  if (error instanceof OffloopError) return error;
  const pg = findPgError(error);
  if (pg === null) return error;
  const advice = DATABASE_ADVICE[pg.sqlstate];
  return new DatabaseError(
    ownQueryMessage(redactUrl(url), pg, advice),
    { url: redactUrl(url), sqlstate: pg.sqlstate, detail: pg.detail, hint: pg.hint },
    { cause: error },
  );
}

/**
 * Run `fn`, its failures reported as offloop's: each part of a SuppressedError or AggregateError
 * (a failure and its cleanup's) on its own, so that the original failure keeps its code, and a
 * lost connection in either is DATABASE_UNAVAILABLE naming the URL.
 */
export async function withDatabaseErrors<T>(
  config: Pick<ResolvedConfig, 'url'>,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw mapFailures(error, (failure) =>
      asDatabaseError(asDatabaseUnavailable(failure, config.url), config.url),
    );
  }
}
