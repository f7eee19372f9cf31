/** libpq's password file (`PGPASSFILE`, else `~/.pgpass`), read as libpq reads it. */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Environment } from './libpq-environment.ts';

/**
 * The password of the first matching line of libpq's password file, `host:port:database:user:password`
 * (`*` matches anything, a backslash escapes `:` and itself). As in libpq, a file that the group or others
 * can read is ignored, and a socket directory matches `localhost`.
 */
export function passwordFromFile(
  env: Environment,
  target: { host: string; port: string; database: string | null; user: string | null },
): string | null {
  const text = readPasswordFile(env);
  if (text === null) return null;
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

/** The password file's text; null when it is missing, not a file, or readable by others. */
function readPasswordFile(env: Environment): string | null {
  const file = env['PGPASSFILE'] || join(env['HOME'] || homedir(), '.pgpass');
  try {
    const stats = statSync(file);
    if (!stats.isFile() || (stats.mode & 0o077) !== 0) return null;
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
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
