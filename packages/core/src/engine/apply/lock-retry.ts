/**
 * Retries after a lock timeout (docs/locking.md): a statement waiting for its lock makes every
 * later conflicting query on the table wait behind it, so each attempt gets a short
 * `lock_timeout`, and a migration that could not get its lock in time (SQLSTATE 55P03) is rolled
 * back and tried again after a pause, with a longer timeout, a bounded number of times.
 */
import type { ResolvedConfig } from '../../config/config.ts';
import { lockLostError, RunAbortedError, type MigrationResult } from '../../errors/index.ts';
import type { LockBlocker } from '../../model/events.ts';
import type { SectionOptions } from '../../model/migration.ts';
import { backoff, retry } from '../../util/poll.ts';
import type { ApplyContext, Position } from './context.ts';
import type { LockWaitSampling } from './lock-wait.ts';

/** The first pause between two attempts; each next one doubles, up to `lockRetryMaxWait`. */
const FIRST_PAUSE_MS = 250;

/**
 * The attempts of one migration (or, in a non-transactional one, of its statements): which one
 * runs, with what `lock_timeout`, and how long to pause after a lock timeout.
 */
export class LockRetries {
  /** The attempt running now, 1-based; in a non-transactional migration, counted over its statements. */
  attempt = 1;
  /** Lock timeouts retried so far (in a non-transactional migration, over all its statements). */
  retried = 0;
  /** The `lock_timeout` of the attempt running now, in ms; null: none. */
  timeoutMs: number | null;
  /** Attempts allowed in all (per statement, in a non-transactional migration). */
  readonly attempts: number;

  private readonly firstMs: number | null;
  private readonly grows: boolean;
  private readonly maxTimeoutMs: number;
  private readonly pauses: (attempt: number) => number;
  private readonly maxWaitMs: number;
  /** Retries after which the timeout grew (those behind a long transaction do not grow it). */
  private steps = 0;
  /** The sessions an attempt was last seen waiting for (an attempt may end before it is seen waiting). */
  private lastSeen: readonly LockBlocker[] = [];

  constructor(
    config: Pick<
      ResolvedConfig,
      'statementLockTimeout' | 'lockRetries' | 'lockRetryMaxTimeout' | 'lockRetryMaxWait'
    >,
    options: Pick<SectionOptions, 'lockTimeout' | 'lockRetries'>,
  ) {
    // A timeout the migration sets itself is its author's choice: every attempt gets it as it is.
    this.grows = options.lockTimeout === null;
    const first = options.lockTimeout ?? config.statementLockTimeout;
    this.firstMs = first > 0 ? first : null;
    // Without a lock_timeout a statement never times out on a lock: nothing to retry.
    this.attempts = this.firstMs === null ? 1 : (options.lockRetries ?? config.lockRetries) + 1;
    this.maxTimeoutMs = Math.max(config.lockRetryMaxTimeout, this.firstMs ?? 0);
    this.maxWaitMs = config.lockRetryMaxWait;
    this.pauses = backoff({ firstMs: FIRST_PAUSE_MS, maxMs: this.maxWaitMs });
    this.timeoutMs = this.firstMs;
  }

  /** Whether another attempt may follow a lock timeout of `attempt` (1-based, per statement). */
  canRetry(attempt: number): boolean {
    return this.firstMs !== null && attempt < this.attempts;
  }

  /** The pause after a lock timeout of `attempt` (1-based), jitter included. */
  pauseMs(attempt: number): number {
    return Math.round(Math.min(this.pauses(attempt - 1), this.maxWaitMs));
  }

  /**
   * The `lock_timeout` the next attempt gets after one that `blockers` held up. A longer timeout
   * helps only against sessions that may finish within it: behind transactions open longer than
   * the longest timeout (a report, a stuck job), it stays as it is, so that the application's
   * queries queue for no longer than they must while the migration waits for them to end.
   */
  nextTimeoutMs(blockers: readonly LockBlocker[]): number | null {
    if (this.firstMs === null || !this.grows) return this.firstMs;
    blockers = this.seen(blockers);
    const long =
      blockers.length > 0 &&
      blockers.every(
        (blocker) => blocker.transactionMs !== null && blocker.transactionMs >= this.maxTimeoutMs,
      );
    const steps = long ? this.steps : this.steps + 1;
    return Math.min(this.firstMs * 2 ** steps, this.maxTimeoutMs);
  }

  /**
   * The sessions an attempt that timed out waited for: `blockers`, as seen while it waited, or,
   * when it was not seen waiting (a short wait between two looks), those last seen.
   */
  seen(blockers: readonly LockBlocker[]): readonly LockBlocker[] {
    return blockers.length > 0 ? blockers : this.lastSeen;
  }

  /** Move on to the next attempt, after one that `blockers` held up. */
  advance(blockers: readonly LockBlocker[]): void {
    const next = this.nextTimeoutMs(blockers);
    this.lastSeen = this.seen(blockers);
    if (next !== this.timeoutMs) this.steps += 1;
    this.timeoutMs = next;
    this.attempt += 1;
    this.retried += 1;
  }
}

/**
 * Thrown instead of `LOCK_NOT_AVAILABLE` by an attempt of a transactional migration that may be
 * retried: it was rolled back, and nothing of it was logged. Never leaves the engine.
 */
export class LockTimedOut extends Error {
  readonly blockedBy: readonly LockBlocker[];
  constructor(blockedBy: readonly LockBlocker[], options: { cause: unknown }) {
    super(
      'A statement could not get its lock within lock_timeout; the migration will be retried.',
      options,
    );
    this.blockedBy = blockedBy;
  }
}

/**
 * Apply a transactional migration with its retries: `attempt` runs it once with `retries`'s
 * current timeout and throws {@link LockTimedOut} when it may be retried. Between attempts the
 * run's stop or a lost lock ends the wait at once.
 */
export async function withLockRetries(
  retries: LockRetries,
  context: ApplyContext,
  version: string,
  attempt: () => Promise<MigrationResult>,
): Promise<MigrationResult> {
  return pausesStopped(context, version, () =>
    retry(() => attempt(), {
      attempts: retries.attempts,
      retryOn: (error) => error instanceof LockTimedOut,
      delayMs: (index) => retries.pauseMs(index + 1),
      onRetry: (error, index, pauseMs) =>
        reportRetry(context, retries, {
          version,
          statement: null,
          attempt: index + 1,
          pauseMs,
          blockedBy: (error as LockTimedOut).blockedBy,
        }),
      signal: stopSignal(context),
    }),
  );
}

/** The run's stop and its lost lock, as one signal that ends a pause between attempts. */
function stopSignal(context: ApplyContext): AbortSignal {
  return context.signal === undefined
    ? context.lockLost
    : AbortSignal.any([context.signal, context.lockLost]);
}

/** Send the `migration:lock-retry` event of a lock timeout, and move `retries` on. */
export async function reportRetry(
  context: ApplyContext,
  retries: LockRetries,
  retried: {
    readonly version: string;
    readonly statement: number | null;
    readonly attempt: number;
    readonly pauseMs: number;
    readonly blockedBy: readonly LockBlocker[];
  },
): Promise<void> {
  const lockTimeoutMs = retries.timeoutMs ?? 0;
  const blockedBy = retries.seen(retried.blockedBy);
  retries.advance(blockedBy);
  await context.emit({
    type: 'migration:lock-retry',
    version: retried.version,
    attempt: retried.attempt,
    attempts: retries.attempts,
    statement: retried.statement,
    lockTimeoutMs,
    nextLockTimeoutMs: retries.timeoutMs ?? 0,
    waitMs: retried.pauseMs,
    blockedBy,
  });
}

/**
 * `body`, whose pauses between attempts end with node's `AbortError` when the run stops or loses
 * its lock: that becomes the run's own error. The migration was rolled back before the pause.
 */
async function pausesStopped<T>(
  context: ApplyContext,
  version: string,
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'AbortError') throw error;
    if (context.lockLost.aborted) throw lockLostError(context.lockLost.reason, context.done, error);
    throw new RunAbortedError(
      `The run was cancelled while migration ${version} paused before retrying after a lock ` +
        'timeout; the attempt that timed out had been rolled back.',
      { applied: [...context.done] },
      { cause: error },
    );
  }
}

/** How often to look whether a statement waits for a lock, to see who holds it up before its `lock_timeout` ends the wait. */
function lockWaitSampleMs(timeoutMs: number | null): number | null {
  return timeoutMs === null ? null : Math.min(Math.max(Math.floor(timeoutMs / 4), 20), 2_000);
}

/**
 * Looking often enough at a migration's lock waits to see who holds it up before its
 * `lock_timeout` ends the wait; the last wait seen goes to `position`.
 */
export function sampling(retries: LockRetries, position: Position): LockWaitSampling | undefined {
  const everyMs = lockWaitSampleMs(retries.timeoutMs);
  return everyMs === null
    ? undefined
    : {
        // Most migrations are over before half their lock_timeout: not looked at at all (the
        // look costs the server a query per run in flight, which a fleet has many of).
        firstMs: Math.max(everyMs, Math.floor((retries.timeoutMs ?? 0) / 2)),
        everyMs,
        seen: (wait) => {
          position.lockWait = wait;
        },
      };
}
