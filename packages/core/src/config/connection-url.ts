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
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join } from 'node:path';

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

const DEFAULT_PORT = '5432';

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

/** The parts of a connection URL, percent-decoded; `null` where the URL says nothing. */
type Parts = {
  scheme: string;
  user: string | null;
  password: string | null;
  host: string | null;
  port: string | null;
  database: string | null;
  /** Every other parameter, in order, decoded. */
  params: [string, string][];
};

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
  const problems: string[] = [];
  const fromEnv = (name: string): string | null => {
    const value = env[name];
    return value === undefined || value === '' ? null : value;
  };

  const port = parsed.port ?? fromEnv('PGPORT');
  if (port !== null && !/^\d{1,5}$/.test(port))
    problems.push(
      `${parsed.port === null ? 'PGPORT' : 'port'} must be a port number, got "${port}"`,
    );
  let host = parsed.host;
  if (host === null) {
    const envHost = fromEnv('PGHOSTADDR') ?? fromEnv('PGHOST');
    if (envHost?.includes(',') === true)
      problems.push(
        `${fromEnv('PGHOSTADDR') === null ? 'PGHOST' : 'PGHOSTADDR'} names several hosts (${envHost}); offloop connects to one: give one`,
      );
    host = envHost ?? defaultHost(port ?? DEFAULT_PORT);
  }
  const user = parsed.user ?? fromEnv('PGUSER') ?? osUser();
  const database = parsed.database ?? fromEnv('PGDATABASE') ?? user;

  const params = parsed.params.map(([key, value]): [string, string] => [
    key,
    key === 'sslmode' ? (SSL_MODES[value] ?? value) : value,
  ]);
  for (const [key, value] of parsed.params) {
    if (key === 'sslmode' && SSL_MODES[value] === undefined)
      problems.push(`sslmode must be one of ${Object.keys(SSL_MODES).join(', ')}, got "${value}"`);
  }
  const envSslmode = fromEnv('PGSSLMODE');
  if (envSslmode !== null && !parsed.params.some(([key]) => key === 'sslmode')) {
    const mode = SSL_MODES[envSslmode];
    if (mode === undefined)
      problems.push(
        `PGSSLMODE must be one of ${Object.keys(SSL_MODES).join(', ')}, got "${envSslmode}"`,
      );
    else params.push(['sslmode', mode]);
  }
  const envApplicationName = fromEnv('PGAPPNAME');
  if (envApplicationName !== null && !parsed.params.some(([key]) => key === 'application_name'))
    params.push(['application_name', envApplicationName]);

  if (problems.length > 0) return { problems };
  const password =
    parsed.password ??
    (fromEnv('PGPASSWORD') === null
      ? passwordFromFile(env, { host, port: port ?? DEFAULT_PORT, database, user })
      : null);
  const url = formatUrl({ ...parsed, host, port, user, database, password, params }, 'driver');
  if (!URL.canParse(url))
    return {
      problems: [
        'cannot be passed on to the driver (its host is not a host name, an IP address or a socket directory)',
      ],
    };
  return { url };
}

/**
 * A connection URL for people to read: the password replaced with `***` (also a `password` or
 * `sslpassword` parameter), a socket directory shown as `?host=/path`, and the run tag offloop
 * adds to `application_name` (see the worker's `application-name.ts`) left out.
 */
export function displayUrl(text: string): string | null {
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
 * Parse a URL as libpq does: `postgres[ql]://[user[:password]@][host][:port][/database][?k=v&...]`,
 * every part percent-decoded (a `+` stays a `+`), and the parameters `host`, `hostaddr`, `port`,
 * `user`, `password` and `dbname` taking the place of the parts they name. A string says what is
 * wrong.
 */
function parsePostgresUrl(text: string): Parts | string {
  const scheme = /^(postgres|postgresql):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined)
    return CONNINFO.test(text)
      ? parseConninfo(text)
      : "must be a postgres:// or postgresql:// URL, or libpq's key=value form (host=... dbname=...)";
  const rest = text.slice(scheme.length + 3);
  const queryAt = rest.indexOf('?');
  const head = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  const slashAt = head.indexOf('/');
  const authority = slashAt === -1 ? head : head.slice(0, slashAt);
  const path = slashAt === -1 ? '' : head.slice(slashAt + 1);
  const atAt = authority.lastIndexOf('@');
  const userinfo = atAt === -1 ? null : authority.slice(0, atAt);
  const hostport = authority.slice(atAt + 1);

  try {
    const parts: Parts = {
      scheme,
      user: null,
      password: null,
      host: null,
      port: null,
      database: null,
      params: [],
    };
    if (userinfo !== null) {
      const colonAt = userinfo.indexOf(':');
      parts.user = nonEmpty(decode(colonAt === -1 ? userinfo : userinfo.slice(0, colonAt)));
      parts.password = colonAt === -1 ? null : decode(userinfo.slice(colonAt + 1));
    }
    if (hostport.includes(','))
      return `names several hosts (${hostport}); offloop connects to one: give one`;
    const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
    if (bracketed !== null) {
      parts.host = nonEmpty(bracketed[1] ?? '');
      parts.port = nonEmpty(bracketed[2] ?? '');
    } else {
      const colonAt = hostport.lastIndexOf(':');
      parts.host = nonEmpty(decode(colonAt === -1 ? hostport : hostport.slice(0, colonAt)));
      parts.port = colonAt === -1 ? null : nonEmpty(hostport.slice(colonAt + 1));
    }
    parts.database = nonEmpty(decode(path));
    let hostaddr: string | null = null;
    for (const pair of query === '' ? [] : query.split('&')) {
      if (pair === '') continue;
      const equalsAt = pair.indexOf('=');
      if (equalsAt === -1) return `parameter "${pair}" has no value (write ${pair}=value)`;
      const key = decode(pair.slice(0, equalsAt));
      const value = decode(pair.slice(equalsAt + 1));
      switch (key) {
        case 'host':
          parts.host = nonEmpty(value);
          break;
        case 'hostaddr':
          hostaddr = nonEmpty(value);
          break;
        case 'port':
          parts.port = nonEmpty(value);
          break;
        case 'user':
          parts.user = nonEmpty(value);
          break;
        case 'password':
          parts.password = value;
          break;
        case 'dbname':
          parts.database = nonEmpty(value);
          break;
        case 'service':
          return 'the service parameter needs pg_service.conf, which offloop does not read: give the connection in the URL';
        default:
          parts.params.push([key, value]);
      }
    }
    // libpq connects to hostaddr when both are given (host then only names the server).
    parts.host = hostaddr ?? parts.host;
    if (parts.host?.includes(',') === true)
      return `names several hosts (${parts.host}); offloop connects to one: give one`;
    if (parts.port !== null && !(/^\d{1,5}$/.test(parts.port) && Number(parts.port) <= 65_535))
      return `port must be a port number (1-65535), got "${parts.port}"`;
    return parts;
  } catch {
    return 'has a malformed %-escape';
  }
}

/** libpq's other form of connection string: `host=db port=5432 dbname=app user='a b'`. */
const CONNINFO = /^\s*[A-Za-z_]+\s*=/;

/**
 * Parse libpq's key=value form into the same parts as a URL: values unquoted (no spaces) or in
 * single quotes with `\'` and `\\` escapes, keywords as in a URL's parameters.
 */
function parseConninfo(text: string): Parts | string {
  const pairs: [string, string][] = [];
  const pattern = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']*))/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (match === null)
      return `is not a valid key=value connection string near "${text.slice(at, at + 20).trim()}"`;
    const [, key = '', quoted, bare] = match;
    pairs.push([key, quoted === undefined ? (bare ?? '') : quoted.replace(/\\(.)/g, '$1')]);
    at = pattern.lastIndex;
  }
  // The same keywords and rules as a URL's parameters: built as one, parsed as one.
  const query = pairs
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  return parsePostgresUrl(`postgresql://${query === '' ? '' : `?${query}`}`);
}

/** Percent-decoding as libpq does it: `+` is a plus sign, not a space. */
function decode(text: string): string {
  return decodeURIComponent(text);
}

function nonEmpty(value: string): string | null {
  return value === '' ? null : value;
}

/**
 * `driver`: the WHATWG form slonik reads, a socket directory as a percent-encoded host.
 * `display`: the same, but a socket directory shown as `?host=/path`, as people write it.
 */
function formatUrl(parts: Parts, form: 'driver' | 'display'): string {
  const socket = parts.host?.startsWith('/') === true && form === 'display';
  let text = `${parts.scheme}://`;
  if (parts.user !== null || parts.password !== null) {
    text += `${encodeURIComponent(parts.user ?? '')}${parts.password === null ? '' : `:${encodeURIComponent(parts.password)}`}@`;
  }
  const params = [...parts.params];
  if (socket) {
    params.unshift(
      ['host', parts.host ?? ''],
      ...(parts.port === null ? [] : [['port', parts.port] as [string, string]]),
    );
  } else {
    // An IPv6 address goes to the driver percent-encoded, not in brackets: slonik hands the
    // decoded host name on as it is, and `[::1]` is no host name to connect to.
    const ipv6 = !parts.host?.startsWith('/') && parts.host?.includes(':') === true;
    if (parts.host !== null)
      text += ipv6 && form === 'display' ? `[${parts.host}]` : encodeURIComponent(parts.host);
    if (parts.port !== null) text += `:${parts.port}`;
  }
  text += `/${parts.database === null ? '' : encodeURIComponent(parts.database)}`;
  // Percent-encoded, never `+` for a space: libpq reads `+` as a plus sign, WHATWG as a space.
  const query = params
    .map(
      ([key, value]) =>
        `${encodeURIComponent(key)}=${encodeURIComponent(value).replaceAll('%2F', '/')}`,
    )
    .join('&');
  return query === '' ? text : `${text}?${query}`;
}

/**
 * The password of the first matching line of libpq's password file, `host:port:database:user:password`
 * (`*` matches anything, a backslash escapes `:` and itself). As in libpq, a file that the group or others
 * can read is ignored, and a socket directory matches `localhost`.
 */
function passwordFromFile(
  env: Environment,
  target: { host: string; port: string; database: string | null; user: string | null },
): string | null {
  const file = env['PGPASSFILE'] || join(env['HOME'] || homedir(), '.pgpass');
  let text: string;
  try {
    const stats = statSync(file);
    if (!stats.isFile() || (stats.mode & 0o077) !== 0) return null;
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const hosts = target.host.startsWith('/') ? [target.host, 'localhost'] : [target.host];
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const fields = splitPasswordLine(line);
    if (fields.length < 5) continue;
    const [host = '', port = '', database = '', user = '', password = ''] = fields;
    const matches = (pattern: string, value: string | null): boolean =>
      pattern === '*' || pattern === value;
    if (
      hosts.some((name) => matches(host, name)) &&
      matches(port, target.port) &&
      matches(database, target.database) &&
      matches(user, target.user)
    )
      return password;
  }
  return null;
}

/** A password file line's fields: split at `:`, where `\:` is a colon and `\\` a backslash. */
function splitPasswordLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (let index = 0; index < line.length; index += 1) {
    const char = line.charAt(index);
    if (char === '\\' && index + 1 < line.length) {
      index += 1;
      field += line.charAt(index);
    } else if (char === ':') {
      fields.push(field);
      field = '';
    } else {
      field += char;
    }
  }
  fields.push(field);
  return fields;
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
