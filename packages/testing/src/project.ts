/**
 * The project id in the names of a harness's databases (`offloop_tpl_<project>_...`,
 * `offloop_r_<project>_...`, `offloop_u_<project>_...`).
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The project id of a migrations directory (an absolute path) on this machine: 8 hex digits of
 * sha256 of the host name and the path. The host name keeps two machines with a checkout at the
 * same path (CI runners sharing one database server) from taking each other's templates for
 * their own and dropping them.
 */
export function projectId(dir: string): string {
  return createHash('sha256').update(`${hostname()}\0${dir}`).digest('hex').slice(0, 8);
}
