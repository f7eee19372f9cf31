/** The configuration's failures. */
import { OffloopError } from './base.ts';

/** One problem found in the configuration. */
export type ConfigIssue = { readonly path: string; readonly message: string };

/** The configuration did not validate. `details.issues` lists every problem at once. */
export class ConfigError extends OffloopError<
  'CONFIG_INVALID',
  { readonly issues: readonly ConfigIssue[] }
> {
  readonly code = 'CONFIG_INVALID';
}

/** The CONFIG_INVALID issue for a `lockUrl` that reaches another database than `url`. */
export function lockDatabaseMismatchMessage(lockDatabase: string, workDatabase: string): string {
  return [
    `lockUrl reaches the database "${lockDatabase}", and url reaches "${workDatabase}":`,
    'the lock must be taken in the database the migrations run in',
    '(advisory locks belong to one database).',
    'Point lockUrl at the same database, directly rather than through the pooler.',
  ].join(' ');
}
