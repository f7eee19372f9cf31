/** Who applied a migration, as the version table and the log record it when `appliedBy` is not set. */
import { hostname, userInfo } from 'node:os';

/** `user@host` of this process (the host name alone when the user cannot be read). */
export const defaultAppliedBy: string = (() => {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return hostname();
  }
})();
