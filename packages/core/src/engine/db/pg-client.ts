/**
 * Settings for the plain `pg` clients offloop opens beside slonik's pool (the run lock's
 * connection, the batch connection), read from the resolved URL (`connection-url.ts`) the way
 * slonik reads it for the pool: the same host, socket directory, user, database and TLS choice
 * on every connection. Handing the URL to `pg` as a connection string instead would parse it
 * differently, and print a warning of its own for `sslmode=require` (a library never prints).
 */
import type pg from 'pg';
import { Memo } from '../../util/memo.ts';

/**
 * Settings already read, by timeout and URL: a fleet asks for the same few URLs once per target
 * and connection (its keys, its clients), and reading a URL costs a fraction of a millisecond.
 */
const read = new Memo<pg.ClientConfig>(256);

/** `pg.Client` settings for `url`, a URL as `resolvePostgresUrl` leaves it (a fresh copy each call). */
export function pgClientConfig(url: string, connectTimeout: number): pg.ClientConfig {
  const config = read.get(`${connectTimeout}\u0000${url}`, () =>
    readClientConfig(url, connectTimeout),
  );
  return { ...config };
}

function readClientConfig(url: string, connectTimeout: number): pg.ClientConfig {
  const parsed = new URL(url);
  const param = (name: string): string | undefined => parsed.searchParams.get(name) ?? undefined;
  const text = (value: string): string | undefined =>
    value === '' ? undefined : decodeURIComponent(value);
  const sslmode = param('sslmode');
  return {
    // A socket directory is a percent-encoded host (or a host parameter).
    host: text(parsed.hostname) ?? param('host'),
    port: parsed.port === '' ? undefined : Number(parsed.port),
    user: text(parsed.username),
    password: text(parsed.password),
    database: text(parsed.pathname.replace(/^\//, '')),
    application_name: param('application_name'),
    options: param('options'),
    ssl:
      sslmode === 'require'
        ? true
        : sslmode === 'no-verify'
          ? { rejectUnauthorized: false }
          : false,
    connectionTimeoutMillis: connectTimeout,
    keepAlive: true,
  };
}
