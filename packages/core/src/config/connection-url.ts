/**
 * Connection URLs as libpq (and so `psql`) reads them, turned into the one form the driver reads.
 *
 * slonik parses a URL with WHATWG `new URL` and reads only the user info, host, port, path and
 * a few parameters; node-postgres fills what slonik leaves out from `PGHOST`, `PGUSER`, ... but
 * defaults to `localhost` over TCP where libpq uses its socket directory, and never reads
 * `PGSSLMODE` (slonik sets `ssl: false`). So libpq's forms are resolved here, once, before any
 * connection: `postgres://u@/db?host=/var/run/postgresql` (WHATWG refuses user info without a
 * host), a percent-encoded socket directory as the host, `?user=`/`?port=`/`?dbname=` parameters
 * (which win over the URL's parts, as in libpq), missing parts from the `PG*` environment, and
 * libpq's `sslmode` values. The result is a URL whose socket directory is a percent-encoded host
 * (`postgres://u@%2Fvar%2Frun%2Fpostgresql:5432/db`), which `new URL` keeps and slonik decodes.
 *
 * A password the URL lacks comes, as in libpq, from `PGPASSWORD` (which the driver reads itself),
 * else from the password file (`PGPASSFILE`, else `~/.pgpass`), read here: node-postgres's own
 * reading of it is deprecated and prints a warning on every run.
 *
 * In `connection-url/`: parsing (`parse-url.ts`, `conninfo.ts`), the libpq environment and
 * defaults (`libpq-environment.ts`), the password file (`pgpass.ts`), writing a URL back
 * (`format-url.ts`).
 */
import { formatUrl } from './connection-url/format-url.ts';
import {
  DEFAULT_PORT,
  fillFromEnvironment,
  readerOf,
  type Environment,
} from './connection-url/libpq-environment.ts';
import { parsePostgresUrl } from './connection-url/parse-url.ts';
import { passwordFromFile } from './connection-url/pgpass.ts';

/** Outcome of {@link resolvePostgresUrl}: the URL for the driver, or what is wrong. */
export type ResolvedUrl =
  | { readonly url: string; readonly problems?: undefined }
  | { readonly url?: undefined; readonly problems: readonly string[] };

/**
 * Resolve a libpq connection URL: parse it as libpq does, fill what it leaves out as libpq does
 * (from `PGHOST`/`PGHOSTADDR`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`, `PGAPPNAME`, then the
 * socket directory, the OS user), and return it in the form the driver reads. `postgres://` alone
 * takes everything from the environment.
 */
export function resolvePostgresUrl(text: string, env: Environment = process.env): ResolvedUrl {
  const parsed = parsePostgresUrl(text);
  if (typeof parsed === 'string') return { problems: [parsed] };
  const fromEnv = readerOf(env);
  const { parts, problems } = fillFromEnvironment(parsed, fromEnv);
  if (problems.length > 0) return { problems };
  const password =
    parsed.password ??
    (fromEnv('PGPASSWORD') === null
      ? passwordFromFile(env, { ...parts, port: parts.port ?? DEFAULT_PORT })
      : null);
  const url = formatUrl({ ...parts, password }, 'driver');
  if (!URL.canParse(url))
    return {
      problems: [
        'cannot be passed on to the driver (its host is not a host name, an IP ' +
          'address or a socket directory)',
      ],
    };
  return { url };
}

/**
 * A connection URL for people to read: the password replaced with `***` (also a `password` or
 * `sslpassword` parameter), a socket directory shown as `?host=/path`, and the run tag offloop
 * adds to `application_name` (see the worker's `application-name.ts`) left out.
 */
function displayUrl(text: string): string | null {
  const parsed = parsePostgresUrl(text);
  if (typeof parsed === 'string') return null;
  const params = parsed.params.flatMap(([key, value]): [string, string][] => {
    if (/^(password|sslpassword)$/i.test(key)) return [[key, '***']];
    if (key !== 'application_name') return [[key, value]];
    const untagged = value.replace(/ ?offloop:[0-9a-f]{12}$/, '');
    return untagged === '' ? [] : [[key, untagged]];
  });
  return formatUrl(
    {
      ...parsed,
      password: parsed.password === null || parsed.password === '' ? parsed.password : '***',
      params,
    },
    'display',
  );
}

/**
 * Replace the password of a database URL with `***`, for anything that is printed or logged. A
 * socket directory shows as `?host=/path`, and offloop's run tag in `application_name` is left out.
 * Text that is not a URL is not shown at all: a value in the wrong place may be a password.
 */
export function redactUrl(url: string): string {
  return displayUrl(url) ?? '(unparseable URL)';
}
