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
