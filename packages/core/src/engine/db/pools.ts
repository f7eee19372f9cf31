/**
 * slonik pools configured for migrations.
 *
 * slonik's defaults are wrong here: a 60 s statement timeout would kill a long backfill, a 60 s
 * idle-in-transaction timeout would kill a migration that computes in JavaScript, and retrying
 * a failed transaction would run a migration's side effects twice.
 */
import { createPool, sql, type DatabasePool, type Interceptor, type QuerySqlToken } from 'slonik';
import type { ResolvedConfig } from '../../config/config.ts';
import { mapFailures } from '../../errors/index.ts';
import { asDatabaseError, asDatabaseUnavailable } from './pg-errors.ts';

/** The pool a run works through; the run lock has its own connection (`lock.ts`). */
export type Pools = { readonly pool: DatabasePool };

function poolFor(
  config: ResolvedConfig,
  url: string,
  size: number,
  interceptors: readonly Interceptor[],
): Promise<DatabasePool> {
  return createPool(url, {
    maximumPoolSize: size,
    minimumPoolSize: 0,
    statementTimeout: config.statementTimeout > 0 ? config.statementTimeout : 'DISABLE_TIMEOUT',
    idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
    transactionRetryLimit: 0,
    queryRetryLimit: 0,
    connectionRetryLimit: 0,
    connectionTimeout: config.connectTimeout,
    idleTimeout: 'DISABLE_TIMEOUT',
    captureStackTrace: false,
    interceptors: [...interceptors],
  });
}

/** Open the work pool, run `fn`, and end the pool whatever happens. */
export async function withPools<T>(
  config: ResolvedConfig,
  fn: (pools: Pools) => Promise<T>,
  options: { interceptors?: readonly Interceptor[] } = {},
): Promise<T> {
  let pool: DatabasePool | null = null;
  try {
    try {
      pool = await poolFor(config, config.url, 1, options.interceptors ?? []);
    } catch (error) {
      // A failure names the URL that failed.
      throw asDatabaseUnavailable(error, config.url);
    }
    return await fn({ pool });
  } catch (error) {
    // Each part of a SuppressedError or AggregateError (a failure and its cleanup's) on its own:
    // the original failure keeps its code, and a lost connection in either is DATABASE_UNAVAILABLE.
    throw mapFailures(error, (failure) =>
      asDatabaseError(asDatabaseUnavailable(failure, config.url), config.url),
    );
  } finally {
    await pool?.end();
  }
}

/** A query from raw SQL text taken from a migration file (trusted input; never from users). */
export function rawQuery(text: string): QuerySqlToken {
  // slonik's tag refuses anything that is not a template literal; a migration statement is one
  // complete literal with no bound values, which is exactly what this builds.
  const raw = Object.freeze([text]);
  const template: TemplateStringsArray = Object.freeze(Object.assign([text], { raw }));
  return sql.unsafe(template);
}
