/**
 * Tagging a call's connections through `application_name`, which PostgreSQL shows in
 * `pg_stat_activity`: the host can then find the backends of a call whose thread is gone and
 * cancel them from a fresh connection, without the engine reporting backend pids.
 */

/** PostgreSQL truncates `application_name` to NAMEDATALEN - 1 bytes. */
const MAX_BYTES = 63;

/**
 * `url` with `application_name` set to the run tag, kept after any name the URL already had
 * (`myapp offloop:1a2b3c4d5e6f`), which is shortened to fit.
 */
export function tagUrl(url: string, runTag: string): string {
  const parsed = new URL(url);
  const existing = parsed.searchParams.get('application_name');
  parsed.searchParams.set('application_name', applicationNameFor(existing, runTag));
  return parsed.toString();
}

/** The `application_name` a tagged connection reports. */
export function applicationNameFor(existing: string | null, runTag: string): string {
  if (existing === null || existing === '') return runTag;
  const room = MAX_BYTES - Buffer.byteLength(runTag) - 1;
  let prefix = existing;
  while (Buffer.byteLength(prefix) > room) prefix = prefix.slice(0, -1);
  return `${prefix} ${runTag}`;
}
