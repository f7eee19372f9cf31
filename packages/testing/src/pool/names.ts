/**
 * What the harness's databases are called on the server, and the advisory locks it takes (all
 * two-integer locks; the first key says what is locked). Names are 63 bytes or less:
 * - `offloop_tpl_<project>_<key>`: the template; `datistemplate` is set only once every migration
 *   applied, so a half-built template is never cloned.
 * - `offloop_r_<project>_<key>_<random>`: a ready clone, shared by every harness (thread or
 *   process) of the same project. A harness claims one by renaming it, which is atomic:
 *   PostgreSQL re-checks the name after locking the database, so of two renames one fails.
 * - `offloop_u_<project>_<owner>_<random>`: a clone in use by a test. `<owner>` is the harness's
 *   id, held as a session advisory lock while it lives, so that clones left by a crashed process
 *   can be told from live ones and dropped.
 */
import { randomBytes } from 'node:crypto';

/** First key of the two-integer advisory locks: harness owners. */
export const OWNER_LOCK_CLASS = 0x0ff1;
/** First key of the two-integer advisory locks: template builds. */
export const BUILD_LOCK_CLASS = 0x0ff2;
/** First key of the two-integer advisory locks: a ready clone being claimed. */
export const CLAIM_LOCK_CLASS = 0x0ff3;
/**
 * First key of the two-integer advisory locks: a project. Every harness holds it shared while it
 * lives; `prune()` drops a project's databases only under it, exclusively.
 */
export const PROJECT_LOCK_CLASS = 0x0ff4;

/** The second key of a project's lock: its id (8 hex digits) as a signed 32-bit integer. */
export const projectLockKey = (hex: string): number => Number.parseInt(hex, 16) | 0;

/** `offloop_tpl_<project>_<key>`. */
export const templateName = (project: string, key: string): string =>
  `offloop_tpl_${project}_${key}`;

/** The prefix of the ready clones of one template: `offloop_r_<project>_<key>_`. */
export const readyPrefix = (project: string, key: string): string => `offloop_r_${project}_${key}_`;

/** The prefix of the clones in use of one project: `offloop_u_<project>_`. */
export const inUsePrefix = (project: string): string => `offloop_u_${project}_`;

/** The random end of a clone's name. */
export const randomSuffix = (): string => randomBytes(4).toString('hex');

/** The connection string of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
