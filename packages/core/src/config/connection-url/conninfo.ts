/** libpq's other form of connection string: `host=db port=5432 dbname=app user='a b'`. */

const CONNINFO = /^\s*[A-Za-z_]+\s*=/;

/**
 * libpq's key=value form as the query of a URL (the same keywords and rules as a URL's
 * parameters: built as one, parsed as one): values unquoted (no spaces) or in single quotes with
 * `\'` and `\\` escapes. Null when the text is not in this form; a problem when it is malformed.
 */
export function conninfoQuery(
  text: string,
): { readonly query: string; readonly problem?: undefined } | { readonly problem: string } | null {
  if (!CONNINFO.test(text)) return null;
  const pairs: [string, string][] = [];
  const pattern = /\s*([A-Za-z_]+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|([^\s']*))/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    pattern.lastIndex = at;
    const match = pattern.exec(text);
    if (match === null)
      return {
        problem: `is not a valid key=value connection string near "${near(text, at)}"`,
      };
    const [, key = '', quoted, bare] = match;
    pairs.push([key, quoted === undefined ? (bare ?? '') : quoted.replace(/\\(.)/g, '$1')]);
    at = pattern.lastIndex;
  }
  const query = pairs
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  return { query };
}

/** The 20 characters of `text` from `at`, trimmed: where a key=value string stops parsing. */
function near(text: string, at: number): string {
  return text.slice(at, at + 20).trim();
}
