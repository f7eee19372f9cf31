/** The session settings a migration runs with, as SQL text (`set` statement bodies). */
import type { ResolvedConfig } from '../config/config.ts';
import type { SectionOptions } from '../model/migration.ts';
import { quoteLiteral } from './ddl.ts';

/**
 * `set_config(...)` setting the session's `search_path` to `searchPath` (a value from
 * `searchPathFor`), as a select-list expression: it rides in a query offloop sends anyway.
 */
export function setSearchPath(searchPath: string): string {
  return `set_config('search_path', ${quoteLiteral(searchPath)}, false)`;
}

/**
 * The `search_path` setting as a `set` statement body, for a migration that sets its own. The
 * value goes as the list of quoted identifiers `searchPathFor` built, not as a string literal:
 * `set search_path = 'a, b'` would name one schema, `a, b`.
 */
export function searchPathSetting(searchPath: string): string {
  return `search_path = ${searchPath}`;
}

/** The timeouts offloop sets for a migration's statements, in ms; null where it sets none. */
export type EffectiveTimeouts = {
  readonly lockTimeout: number | null;
  readonly statementTimeout: number | null;
};

/**
 * The `lock_timeout` and `statement_timeout` a migration's statements run with: the migration's
 * own option, else the configured default (where that is not 0, which means none). Pure: the
 * engine sets these, `plan` shows them. The lock timeout is the first attempt's: retries after a
 * lock timeout grow it (`engine/apply/lock-retry.ts`).
 */
export function effectiveTimeouts(
  config: Pick<ResolvedConfig, 'statementLockTimeout' | 'statementTimeout'>,
  options: Pick<SectionOptions, 'lockTimeout' | 'statementTimeout'>,
): EffectiveTimeouts {
  return {
    lockTimeout:
      options.lockTimeout ?? (config.statementLockTimeout > 0 ? config.statementLockTimeout : null),
    statementTimeout:
      options.statementTimeout ?? (config.statementTimeout > 0 ? config.statementTimeout : null),
  };
}

/**
 * Session settings for a migration's statements, as `set` statements. `otherwise` gives the
 * values to set when neither the migration nor the config sets one (in a single-transaction run).
 * `lockTimeoutMs`, when given, replaces the effective lock timeout (an attempt's, when retrying;
 * null for none).
 */
export function timeoutSettings(
  config: ResolvedConfig,
  options: SectionOptions,
  otherwise?: { readonly lockTimeout: string; readonly statementTimeout: string },
  lockTimeoutMs?: number | null,
): string[] {
  const settings: string[] = [];
  const effective = effectiveTimeouts(config, options);
  const { statementTimeout } = effective;
  const lockTimeout = lockTimeoutMs === undefined ? effective.lockTimeout : lockTimeoutMs;
  if (lockTimeout !== null) settings.push(`lock_timeout = '${lockTimeout}ms'`);
  else if (otherwise !== undefined)
    settings.push(`lock_timeout = ${quoteLiteral(otherwise.lockTimeout)}`);
  if (statementTimeout !== null) settings.push(`statement_timeout = '${statementTimeout}ms'`);
  else if (otherwise !== undefined)
    settings.push(`statement_timeout = ${quoteLiteral(otherwise.statementTimeout)}`);
  return settings;
}
