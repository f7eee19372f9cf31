/**
 * What libpq fills in when a connection string leaves it out: the `PG*` environment, then its
 * defaults (the socket directory, port 5432, the OS user), and its `sslmode` values as the driver
 * understands them.
 */
import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Parts } from './parse-url.ts';

/** Environment variables, as `process.env` holds them. */
export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * The libpq environment variables that say which database to use or how to reach it. When one of
 * them is set, a CLI run without a URL connects where they point instead of starting an embedded
 * PostgreSQL.
 */
export const LIBPQ_ENVIRONMENT = [
  'PGHOST',
  'PGHOSTADDR',
  'PGPORT',
  'PGDATABASE',
  'PGUSER',
  'PGPASSWORD',
  'PGPASSFILE',
  'PGSERVICE',
  'PGSSLMODE',
] as const;

/** Where libpq builds look for the server's socket when no host is given: Debian's, then upstream's. */
const SOCKET_DIRECTORIES = ['/var/run/postgresql', '/tmp'] as const;

export const DEFAULT_PORT = '5432';

/**
 * libpq's `sslmode` values (and node-postgres's `no-verify`), as the driver understands them. The
 * driver cannot fall back from SSL to plain or back, so `allow` and `prefer` connect without SSL;
 * its `require` checks the certificate and the host name, as `verify-full` does (node-postgres
 * treats `require` and `verify-ca` that way too); `no-verify` encrypts without checking, which is
 * what libpq's `require` does.
 */
const SSL_MODES: Readonly<Record<string, 'disable' | 'require' | 'no-verify'>> = {
  disable: 'disable',
  allow: 'disable',
  prefer: 'disable',
  require: 'require',
  'verify-ca': 'require',
  'verify-full': 'require',
  'no-verify': 'no-verify',
};

/** A variable of `env`; null when unset or empty. */
export type FromEnvironment = (name: string) => string | null;

export function readerOf(env: Environment): FromEnvironment {
  return (name) => {
    const value = env[name];
    return value === undefined || value === '' ? null : value;
  };
}

/** The parts with what they leave out filled as libpq fills it, and what is wrong. */
export function fillFromEnvironment(
  parsed: Parts,
  fromEnv: FromEnvironment,
): { readonly parts: Parts & { host: string }; readonly problems: readonly string[] } {
  const problems: string[] = [];
  const port = parsed.port ?? fromEnv('PGPORT');
  if (port !== null && !/^\d{1,5}$/.test(port))
    problems.push(
      `${parsed.port === null ? 'PGPORT' : 'port'} must be a port number, got "${port}"`,
    );
  const host = parsed.host ?? hostFromEnvironment(fromEnv, port, problems);
  const user = parsed.user ?? fromEnv('PGUSER') ?? osUser();
  const database = parsed.database ?? fromEnv('PGDATABASE') ?? user;
  const params = paramsWithEnvironment(parsed.params, fromEnv, problems);
  return { parts: { ...parsed, host, port, user, database, params }, problems };
}

/** `PGHOSTADDR`, else `PGHOST`, else libpq's default host; several hosts are a problem. */
function hostFromEnvironment(
  fromEnv: FromEnvironment,
  port: string | null,
  problems: string[],
): string {
  const envHost = fromEnv('PGHOSTADDR') ?? fromEnv('PGHOST');
  if (envHost?.includes(',') === true)
    problems.push(
      `${fromEnv('PGHOSTADDR') === null ? 'PGHOST' : 'PGHOSTADDR'} names ` +
        `several hosts (${envHost}); offloop connects to one: give one`,
    );
  return envHost ?? defaultHost(port ?? DEFAULT_PORT);
}

/** The parameters with `sslmode` as the driver reads it, and `PGSSLMODE`, `PGAPPNAME` where absent. */
function paramsWithEnvironment(
  parsed: Parts['params'],
  fromEnv: FromEnvironment,
  problems: string[],
): [string, string][] {
  const params = parsed.map(([key, value]): [string, string] => [
    key,
    key === 'sslmode' ? (SSL_MODES[value] ?? value) : value,
  ]);
  for (const [key, value] of parsed) {
    if (key === 'sslmode' && SSL_MODES[value] === undefined)
      problems.push(`sslmode must be one of ${Object.keys(SSL_MODES).join(', ')}, got "${value}"`);
  }
  const envSslmode = fromEnv('PGSSLMODE');
  if (envSslmode !== null && !parsed.some(([key]) => key === 'sslmode')) {
    const mode = SSL_MODES[envSslmode];
    if (mode === undefined)
      problems.push(
        `PGSSLMODE must be one of ${Object.keys(SSL_MODES).join(', ')}, got "${envSslmode}"`,
      );
    else params.push(['sslmode', mode]);
  }
  const envApplicationName = fromEnv('PGAPPNAME');
  if (envApplicationName !== null && !parsed.some(([key]) => key === 'application_name'))
    params.push(['application_name', envApplicationName]);
  return params;
}

/** libpq's default host: its socket directory when a server listens there, else `localhost`. */
function defaultHost(port: string): string {
  return SOCKET_DIRECTORIES.find((dir) => existsSync(join(dir, `.s.PGSQL.${port}`))) ?? 'localhost';
}

function osUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry (some containers): the driver falls back to $USER.
    return null;
  }
}
