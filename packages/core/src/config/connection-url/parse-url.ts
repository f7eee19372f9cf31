/**
 * A connection string parsed as libpq parses it, into its parts: the URL form here, libpq's
 * key=value form through `conninfo.ts`.
 */
import { conninfoQuery } from './conninfo.ts';

/** The parts of a connection URL, percent-decoded; `null` where the URL says nothing. */
export type Parts = {
  scheme: string;
  user: string | null;
  password: string | null;
  host: string | null;
  port: string | null;
  database: string | null;
  /** Every other parameter, in order, decoded. */
  params: [string, string][];
};

/** A URL's text cut at its delimiters, not yet decoded. */
type Pieces = {
  readonly userinfo: string | null;
  readonly hostport: string;
  readonly path: string;
  readonly query: string;
};

/**
 * Parse a URL as libpq does: `postgres[ql]://[user[:password]@][host][:port][/database][?k=v&...]`,
 * every part percent-decoded (a `+` stays a `+`), and the parameters `host`, `hostaddr`, `port`,
 * `user`, `password` and `dbname` taking the place of the parts they name. A string says what is
 * wrong.
 */
export function parsePostgresUrl(text: string): Parts | string {
  const scheme = /^(postgres|postgresql):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) return parseOtherForm(text);
  try {
    return parseParts(scheme, cut(text.slice(scheme.length + 3)));
  } catch {
    return 'has a malformed %-escape';
  }
}

/** Not a URL: libpq's key=value form, read as the URL of its parameters; else what is wrong. */
function parseOtherForm(text: string): Parts | string {
  const query = conninfoQuery(text);
  if (query === null)
    return (
      "must be a postgres:// or postgresql:// URL, or libpq's key=value form (host=... " +
      'dbname=...)'
    );
  if (query.problem !== undefined) return query.problem;
  return parsePostgresUrl(`postgresql://${query.query === '' ? '' : `?${query.query}`}`);
}

/** The text after `scheme://`, cut into user info, host and port, path and query. */
function cut(rest: string): Pieces {
  const queryAt = rest.indexOf('?');
  const head = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const slashAt = head.indexOf('/');
  const authority = slashAt === -1 ? head : head.slice(0, slashAt);
  const atAt = authority.lastIndexOf('@');
  return {
    userinfo: atAt === -1 ? null : authority.slice(0, atAt),
    hostport: authority.slice(atAt + 1),
    path: slashAt === -1 ? '' : head.slice(slashAt + 1),
    query: queryAt === -1 ? '' : rest.slice(queryAt + 1),
  };
}

/** The parts of a URL cut into pieces; throws on a malformed %-escape. */
function parseParts(scheme: string, pieces: Pieces): Parts | string {
  const parts: Parts = {
    scheme,
    ...userOf(pieces.userinfo),
    host: null,
    port: null,
    database: null,
    params: [],
  };
  if (pieces.hostport.includes(','))
    return `names several hosts (${pieces.hostport}); offloop connects to one: give one`;
  Object.assign(parts, hostAndPortOf(pieces.hostport));
  parts.database = nonEmpty(decode(pieces.path));
  return applyParameters(parts, pieces.query) ?? checkHostAndPort(parts) ?? parts;
}

function userOf(userinfo: string | null): Pick<Parts, 'user' | 'password'> {
  if (userinfo === null) return { user: null, password: null };
  const colonAt = userinfo.indexOf(':');
  return {
    user: nonEmpty(decode(colonAt === -1 ? userinfo : userinfo.slice(0, colonAt))),
    password: colonAt === -1 ? null : decode(userinfo.slice(colonAt + 1)),
  };
}

/** `host:port`, `[ipv6]:port`, either part may be missing. */
function hostAndPortOf(hostport: string): Pick<Parts, 'host' | 'port'> {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(hostport);
  if (bracketed !== null)
    return { host: nonEmpty(bracketed[1] ?? ''), port: nonEmpty(bracketed[2] ?? '') };
  const colonAt = hostport.lastIndexOf(':');
  return {
    host: nonEmpty(decode(colonAt === -1 ? hostport : hostport.slice(0, colonAt))),
    port: colonAt === -1 ? null : nonEmpty(hostport.slice(colonAt + 1)),
  };
}

/**
 * Apply the query's parameters to `parts`: those that name a part replace it, the others are kept
 * in order. Returns what is wrong, or null.
 */
function applyParameters(parts: Parts, query: string): string | null {
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
        return (
          'the service parameter needs pg_service.conf, which offloop does not read: give the ' +
          'connection in the URL'
        );
      default:
        parts.params.push([key, value]);
    }
  }
  // libpq connects to hostaddr when both are given (host then only names the server).
  parts.host = hostaddr ?? parts.host;
  return null;
}

/** What is wrong with the host or port the parts name, or null. */
function checkHostAndPort(parts: Parts): string | null {
  if (parts.host?.includes(',') === true)
    return `names several hosts (${parts.host}); offloop connects to one: give one`;
  if (parts.port !== null && !(/^\d{1,5}$/.test(parts.port) && Number(parts.port) <= 65_535))
    return `port must be a port number (1-65535), got "${parts.port}"`;
  return null;
}

/** Percent-decoding as libpq does it: `+` is a plus sign, not a space. */
function decode(text: string): string {
  return decodeURIComponent(text);
}

function nonEmpty(value: string): string | null {
  return value === '' ? null : value;
}
