/**
 * A host's side of a queued fleet run (`offloop fleet work`): take target jobs from the queue into
 * this host's fleet (its pool of worker threads), `concurrency` at once, and settle each with the
 * target's result: an applied target completes its job, a failed or cancelled one fails it, so
 * that pg-boss retries it (on any host) up to its limit and then moves it to the dead-letter queue.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { notRunResult, poll, targetErrorOf, type TargetResult } from '@offloop/core';
import type { Fleet } from '@offloop/worker';
import type { JobResult, PgBoss } from 'pg-boss';
import { openQueue, type TargetJob } from './queue.ts';
import type { QueueLocation, QueueWorkOptions } from './queue-options.ts';

/** Options of {@link workQueue}. */
export type QueueWorkerOptions = QueueLocation &
  QueueWorkOptions & {
    /** Jobs taken at once. */
    readonly concurrency: number;
    /** Stops the host gracefully: no new job, then `stopGrace` for the targets in flight. */
    readonly signal?: AbortSignal | undefined;
    /** Each job as it ends, with its target's result. */
    readonly onJob?:
      | ((job: { readonly id: string; readonly retryCount: number }, result: TargetResult) => void)
      | undefined;
    /** One line about the host itself (stopping, idle). */
    readonly onNotice?: ((message: string) => void) | undefined;
  };

/** What a host did before it stopped. */
export type QueueWorkResult = {
  readonly completed: number;
  readonly failed: number;
  /** Why it stopped: a signal, or an empty queue (`exitWhenIdle`). */
  readonly stoppedBy: 'signal' | 'idle';
};

/** How often an idle host looks at the queue, with `exitWhenIdle`. */
const IDLE_CHECK_MS = 1000;

/**
 * Take jobs until `signal` fires (or, with `exitWhenIdle`, the queue stays empty for `idleTime`),
 * then stop gracefully: no new job; targets in flight finish within `stopGrace`, or are cancelled
 * (each rolls back its current migration and releases its lock) and their jobs fail back to the
 * queue for another host.
 */
export async function workQueue(
  fleet: Fleet,
  options: QueueWorkerOptions,
): Promise<QueueWorkResult> {
  const notice = options.onNotice ?? (() => undefined);
  const host = new QueueHost(fleet, options);
  const boss = await openQueue(options, (error) => notice(`queue: ${error.message}`));
  try {
    // One fetch takes as many jobs as the host runs at once, and fetches again at once while
    // fetches come back full (pg-boss's burst): a slot that waited for the next poll after each
    // job sat idle most of the time (a target takes tens of ms, a poll interval hundreds).
    await boss.work<
      TargetJob,
      unknown,
      {
        batchSize: number;
        localConcurrency: number;
        perJobResults: true;
        pollingIntervalSeconds: number;
        burstWhenBatchFull: boolean;
      }
    >(
      options.queueName,
      {
        batchSize: options.concurrency,
        localConcurrency: 1,
        perJobResults: true,
        pollingIntervalSeconds: 0.5,
        burstWhenBatchFull: true,
      },
      (jobs) => host.run(jobs),
    );
    const stoppedBy = await host.waitForStop(boss);
    notice(
      stoppedBy === 'idle'
        ? `the queue ${options.queueName} is empty: stopping`
        : `stopping: no new job; ${host.inFlight} in flight`,
    );
    await boss.offWork(options.queueName, { wait: false });
    await host.drain(options.stopGrace, () =>
      notice(`cancelling ${host.inFlight} targets in flight; their jobs go back to the queue`),
    );
    await boss.offWork(options.queueName, { wait: true });
    return { completed: host.completed, failed: host.failed, stoppedBy };
  } finally {
    await boss.stop({ graceful: true, timeout: 10_000 });
  }
}

/** The jobs one host runs: what is in flight, what it did, and the cancel of last resort. */
class QueueHost {
  readonly #fleet: Fleet;
  readonly #options: QueueWorkerOptions;
  /** Fired after the grace period: cancels the targets still in flight. */
  readonly #cancel = new AbortController();
  readonly #running = new Set<Promise<unknown>>();
  completed = 0;
  failed = 0;

  constructor(fleet: Fleet, options: QueueWorkerOptions) {
    this.#fleet = fleet;
    this.#options = options;
  }

  get inFlight(): number {
    return this.#running.size;
  }

  /** pg-boss's handler: each job's target, settled by its own result. */
  run(
    jobs: readonly {
      readonly id: string;
      readonly retryCount: number;
      readonly data: TargetJob;
      readonly signal: AbortSignal;
    }[],
  ): Promise<JobResult[]> {
    const work = Promise.all(jobs.map((job) => this.#runJob(job)));
    this.#running.add(work);
    void work.finally(() => this.#running.delete(work));
    return work;
  }

  async #runJob(job: {
    readonly id: string;
    readonly retryCount: number;
    readonly data: TargetJob;
    readonly signal: AbortSignal;
  }): Promise<JobResult> {
    // pg-boss aborts job.signal when the job outlives its timeout (it is failed, and retried).
    const signal = AbortSignal.any([job.signal, this.#cancel.signal]);
    let result: TargetResult;
    try {
      result = await this.#fleet.upTarget(
        { url: job.data.url, schema: job.data.schema },
        { signal },
      );
    } catch (error) {
      // upTarget never rejects for a target's failure; a bad target (its URL) rejects.
      const { label, database, schema } = job.data;
      result = {
        ...notRunResult({ target: label, database, schema }, 'not-run', null),
        outcome: 'failed',
        error: targetErrorOf(error),
      };
    }
    const labelled = { ...result, target: job.data.label };
    const ok = labelled.outcome === 'applied';
    if (ok) this.completed += 1;
    else this.failed += 1;
    this.#options.onJob?.(job, labelled);
    return { id: job.id, status: ok ? 'completed' : 'failed', output: withoutRowData(labelled) };
  }

  /** Resolve when the host should stop: its signal, or an empty queue for `idleTime`. */
  async waitForStop(boss: PgBoss): Promise<'signal' | 'idle'> {
    const { signal } = this.#options;
    let idleSince: number | null = null;
    const check = async (): Promise<'signal' | 'idle' | null> => {
      if (signal?.aborted === true) return 'signal';
      if (!this.#options.exitWhenIdle) return null;
      const empty = this.inFlight === 0 && (await pendingJobs(boss, this.#options.queueName)) === 0;
      if (!empty) {
        idleSince = null;
        return null;
      }
      idleSince ??= performance.now();
      return performance.now() - idleSince >= this.#options.idleTime ? 'idle' : null;
    };
    try {
      const { value } = await poll(check, {
        until: (stop) => stop !== null,
        intervalMs: IDLE_CHECK_MS,
        signal,
      });
      return value ?? 'signal';
    } catch (error) {
      // The signal ended the pause between two checks.
      if (signal?.aborted === true) return 'signal';
      throw error;
    }
  }

  /** Wait up to `graceMs` for the jobs in flight; then cancel them and wait for their results. */
  async drain(graceMs: number, onCancel: () => void): Promise<void> {
    if (this.inFlight === 0) return;
    const settled = Promise.allSettled([...this.#running]);
    // A deadline on this process's own promises, not a wait for something outside: no poll.
    const timer = new AbortController();
    const inTime = await Promise.race([
      settled.then(() => true),
      sleep(graceMs, false, { signal: timer.signal }).catch(() => false),
    ]);
    timer.abort();
    if (inTime) return;
    onCancel();
    this.#cancel.abort();
    await Promise.allSettled([...this.#running]);
  }
}

/**
 * Jobs of the queue waiting or running, on any host. pg-boss's own counts are cached for up to a
 * minute; this reads its job table (`pgboss.job`, partitioned by queue name) directly.
 */
async function pendingJobs(boss: PgBoss, queueName: string): Promise<number> {
  const { rows } = await boss
    .getDb()
    .executeSql(
      "select count(*)::int as pending from pgboss.job where name = $1 and state in ('created', 'retry', 'active')",
      [queueName],
    );
  const [row] = rows as { pending: number }[];
  return row?.pending ?? 0;
}

/**
 * A result as the queue keeps it, in the control database for pg-boss's retention: without
 * PostgreSQL's DETAIL, which may quote a row's values (`Key (email)=(...) already exists.`).
 * The host that ran the target printed it.
 */
export function withoutRowData(result: TargetResult): TargetResult {
  if (result.error?.detail === undefined) return result;
  const { detail: _detail, ...error } = result.error;
  return { ...result, error };
}
