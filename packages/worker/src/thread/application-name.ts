/**
 * Tagging a call's connections through `application_name`, which PostgreSQL shows in
 * `pg_stat_activity`: the host can then find the backends of a call whose thread is gone and
 * cancel them from a fresh connection, without the engine reporting backend pids.
 */

/** PostgreSQL truncates `application_name` to NAMEDATALEN - 1 bytes. */
const MAX_BYTES = 63;

/**
 * `url` with `application_name` set to the run tag, kept after any name the URL already had
 * (`myapp offloop:1a2b3c4d5e6f`), which is shortened to fit. `url` is a resolved URL (core's
 * `parseConfig` made it): its other parameters are left exactly as they are, since
 * `URLSearchParams` would rewrite a `%20` as `+`, which libpq's reading takes for a plus sign.
 */
export function tagUrl(url: string, runTag: string): string {
  const queryAt = url.indexOf('?');
  const base = queryAt === -1 ? url : url.slice(0, queryAt);
  const pairs = queryAt === -1 ? [] : url.slice(queryAt + 1).split('&');
  let existing: string | null = null;
  const kept: string[] = [];
  for (const pair of pairs) {
    const equalsAt = pair.indexOf('=');
    if (pair === '') continue;
    if (decodeURIComponent(equalsAt === -1 ? pair : pair.slice(0, equalsAt)) === 'application_name')
      existing = decodeURIComponent(pair.slice(equalsAt + 1));
    else kept.push(pair);
  }
  kept.push(`application_name=${encodeURIComponent(applicationNameFor(existing, runTag))}`);
  return `${base}?${kept.join('&')}`;
}

/** The `application_name` a tagged connection reports. */
function applicationNameFor(existing: string | null, runTag: string): string {
  if (existing === null || existing === '') return runTag;
  const room = MAX_BYTES - Buffer.byteLength(runTag) - 1;
  let prefix = existing;
  while (Buffer.byteLength(prefix) > room) prefix = prefix.slice(0, -1);
  return `${prefix} ${runTag}`;
}
