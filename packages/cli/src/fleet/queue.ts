/**
 * A fleet run shared by many hosts through a pg-boss queue in a control database. `fleet up
 * --queue` resolves the targets, sends one job per target that has work ({@link enqueueAndFollow})
 * and follows the jobs to the end; `fleet work` hosts take the jobs into their own fleet's threads
 * (`queue-worker.ts`).
 *
 * Delivery is at least once: a host that dies leaves its jobs active until their heartbeat is
 * older than `heartbeat`, then pg-boss's supervisor (run by every host here, every few seconds)
 * puts them back in the queue. That is safe because each target's run takes the target's own
 * advisory lock and reads its own ledger: a second run of a target waits for the first (or for
 * its dead backends to be ended) and applies only what is still pending.
 *
 * The queue: policy `exclusive` keyed by the target (`<server>/<database>/<schema>`), so a target
 * is never queued or running twice at once, even from two runs; retries with exponential backoff;
 * a dead-letter queue `<name>.dead` for jobs that used up their retries. Job data carries the
 * target's URL without its password: each host finds passwords as libpq does (`PGPASSWORD`,
 * `~/.pgpass`), so the control database holds no secrets.
 */
import { randomUUID } from 'node:crypto';
import {
  countOutcomes,
  FleetFailedError,
  fleetFailedMessage,
  notRunResult,
  parsePostgresUrl,
  poll,
  type FleetEvent,
  type FleetUpResult,
  type LocatedTarget,
  type TargetResult,
} from '@offloop/core';
import type { Fleet } from '@offloop/worker';
import { PgBoss, type JobWithMetadata } from 'pg-boss';
import type { QueueLocation, QueueSendOptions } from './queue-options.ts';

/** What one target's job carries. */
export type TargetJob = {
  /** The run that sent it (`fleet up --queue`). */
  readonly run: string;
  /** The target's URL, without its password. */
  readonly url: string;
  readonly schema: string;
  /** Its label in the run that sent it. */
  readonly label: string;
  readonly database: string;
};

/** How often each host's pg-boss supervisor puts lost jobs (no heartbeat, timed out) back. */
const SUPERVISE_SECONDS = 5;

/** The dead-letter queue of `queueName`. */
function deadLetterOf(queueName: string): string {
  return `${queueName}.dead`;
}

/**
 * A started pg-boss on the control database, with the queue and its dead-letter queue created
 * (both calls are idempotent: every host makes them). Stop it with `stop()`.
 */
export async function openQueue(
  where: QueueLocation,
  onError: (error: Error) => void,
): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: where.controlUrl,
    application_name: 'offloop fleet',
    // Lost jobs come back within heartbeat + this, not pg-boss's default minute.
    superviseIntervalSeconds: SUPERVISE_SECONDS,
    monitorIntervalSeconds: SUPERVISE_SECONDS,
    schedule: false,
    max: 4,
  });
  // An EventEmitter 'error' with no listener would throw: pg-boss reports its background
  // failures (a supervisor query on a lost connection) here and goes on.
  boss.on('error', onError);
  await boss.start();
  try {
    const dead = deadLetterOf(where.queueName);
    if ((await boss.getQueue(dead)) === null) await boss.createQueue(dead);
    if ((await boss.getQueue(where.queueName)) === null)
      await boss.createQueue(where.queueName, { policy: 'exclusive', deadLetter: dead });
  } catch (error) {
    await boss.stop({ graceful: false }).catch(() => undefined);
    throw error;
  }
  return boss;
}

/** Options of {@link enqueueAndFollow}. */
export type QueueRunOptions = QueueLocation &
  QueueSendOptions & {
    /** Stops following (the jobs stay queued: the hosts go on with them). */
    readonly signal?: AbortSignal | undefined;
    /** The run's progress, as a fleet's: planned, then each target as its job ends. */
    readonly onProgress?: ((event: FleetEvent) => void) | undefined;
    /** One line about the queue itself (the run id, a target already queued by another run). */
    readonly onNotice?: ((message: string) => void) | undefined;
  };

/** A fleet's `up` result, with the run's id. */
export type QueueRunResult = FleetUpResult & { readonly run: string };

/**
 * Send one job per target of `fleet` that is not up to date, then wait until every job has
 * completed or failed for good, and resolve with each target's result, as `fleet.up()` does;
 * reject with `FleetFailedError` (`FLEET_FAILED`, its `details` the result) when a target failed.
 * Canaries and the failure policy do not apply: every target is tried, and retried.
 */
export async function enqueueAndFollow(
  fleet: Fleet,
  options: QueueRunOptions,
): Promise<QueueRunResult> {
  const startedAt = performance.now();
  const emit = options.onProgress ?? (() => undefined);
  const notice = options.onNotice ?? (() => undefined);
  const targets = await fleet.targets({ signal: options.signal });
  const run = randomUUID();
  const results = new Map<string, TargetResult>();
  const toRun = targets.filter((target) => target.state !== 'up-to-date');
  for (const target of targets)
    if (target.state === 'up-to-date')
      results.set(keyOf(target), notRunResult(target, 'up-to-date', target.version));
  emit({
    type: 'fleet:planned',
    total: targets.length,
    upToDate: targets.length - toRun.length,
    toRun: toRun.length,
    canaries: [],
  });

  let backgroundError: Error | null = null;
  const boss = await openQueue(options, (error) => (backgroundError ??= error));
  let stopped: FleetUpResult['stopped'] = null;
  try {
    // Job id -> its target, for the jobs this run follows (its own, and any another run had
    // already queued for one of its targets).
    const following = new Map<string, LocatedTarget>();
    let adopted = 0;
    for (const target of toRun) {
      // Null: another run's job for it ended between the refusal and the look-up: send again.
      const sent =
        (await sendOrAdopt(boss, options, run, target)) ??
        (await sendOrAdopt(boss, options, run, target));
      if (sent === null) continue;
      following.set(sent.id, target);
      if (sent.adopted) adopted += 1;
    }
    notice(
      `run ${run}: queued ${toRun.length} of ${targets.length} targets in ${options.queueName}` +
        (adopted === 0 ? '' : ` (${adopted} already queued by another run: following those)`),
    );

    const finished = await followJobs(boss, options, run, following, (target, result) => {
      results.set(keyOf(target), result);
      emit({ type: 'target:finished', result });
    });
    if (!finished) stopped = 'aborted';
  } finally {
    await boss.stop({ graceful: false });
  }
  if (backgroundError !== null && stopped === null && results.size < targets.length)
    throw backgroundError as Error;

  const ordered = targets.map(
    (target) => results.get(keyOf(target)) ?? notRunResult(target, 'not-run', target.version),
  );
  const counts = countOutcomes(ordered);
  emit({ type: 'fleet:finished', counts, stopped });
  const result: QueueRunResult = {
    run,
    targets: ordered,
    counts,
    stopped,
    durationMs: performance.now() - startedAt,
  };
  if (counts.failed > 0 || counts.cancelled > 0 || stopped !== null)
    throw new FleetFailedError(failureMessage(result, options.queueName), result);
  return result;
}

/**
 * Every second, look at the jobs still open and report each one that ended, until none is open
 * (true) or `options.signal` stops the following (false).
 */
async function followJobs(
  boss: PgBoss,
  options: QueueRunOptions,
  run: string,
  following: ReadonlyMap<string, LocatedTarget>,
  onResult: (target: LocatedTarget, result: TargetResult) => void,
): Promise<boolean> {
  const open = new Map(following);
  if (open.size === 0) return true;
  const follow = async (): Promise<number | null> => {
    if (options.signal?.aborted === true) return null;
    for (const job of await jobsOf(boss, options.queueName, run, open)) {
      const target = open.get(job.id);
      if (target === undefined || !isFinal(job.state)) continue;
      open.delete(job.id);
      onResult(target, resultOf(job, target));
    }
    return open.size;
  };
  try {
    const { value } = await poll(follow, {
      until: (left) => left === null || left === 0,
      intervalMs: 1000,
      signal: options.signal,
    });
    return value !== null;
  } catch (error) {
    // The signal ended the pause between two looks.
    if (options.signal?.aborted === true) return false;
    throw error;
  }
}

/**
 * Send `target`'s job, or, when the queue refuses it because the target is already queued or
 * running (policy `exclusive`), find that job: it is the one to follow. Null when neither (the
 * other job ended in between).
 */
async function sendOrAdopt(
  boss: PgBoss,
  options: QueueRunOptions,
  run: string,
  target: LocatedTarget,
): Promise<{ readonly id: string; readonly adopted: boolean } | null> {
  const key = singletonKeyOf(target);
  const data: TargetJob = {
    run,
    url: withoutPassword(target.url),
    schema: target.schema,
    label: target.target,
    database: target.database,
  };
  const id = await boss.send(options.queueName, data, {
    singletonKey: key,
    retryLimit: options.retryLimit,
    retryDelay: Math.ceil(options.retryDelay / 1000),
    retryBackoff: true,
    retryDelayMax: 300,
    heartbeatSeconds: Math.ceil(options.heartbeat / 1000),
    expireInSeconds: Math.ceil(options.jobTimeout / 1000),
  });
  if (id !== null) return { id, adopted: false };
  const existing = await boss.findJobs<TargetJob>(options.queueName, { key });
  const running = existing.filter((job) => !isFinal(job.state)).at(-1);
  return running === undefined ? null : { id: running.id, adopted: true };
}

/** The jobs this run follows: its own in one query, adopted ones one by one. */
async function jobsOf(
  boss: PgBoss,
  queueName: string,
  run: string,
  open: ReadonlyMap<string, unknown>,
): Promise<JobWithMetadata<TargetJob>[]> {
  const own = await boss.findJobs<TargetJob>(queueName, { data: { run }, limit: 100_000 });
  const ownIds = new Set(own.map((job) => job.id));
  const others = [...open.keys()].filter((id) => !ownIds.has(id));
  const adopted = await Promise.all(
    others.map((id) => boss.findJobs<TargetJob>(queueName, { id })),
  );
  return [...own, ...adopted.flat()];
}

function isFinal(state: JobWithMetadata['state']): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

/** A finished job's target result: the one its host stored, or one made from pg-boss's failure. */
function resultOf(job: JobWithMetadata<TargetJob>, target: LocatedTarget): TargetResult {
  const output: unknown = job.output;
  if (isTargetResult(output)) return { ...output, target: target.target };
  // No host stored a result: the job timed out, or its hosts died until its retries ran out.
  const message = messageIn(output) ?? `job ${job.state}`;
  return {
    ...notRunResult(target, 'not-run', target.version),
    outcome: 'failed',
    error: {
      code: 'WORKER_FAILED',
      message:
        `its queue job ${job.id} ${job.state} after ${job.retryCount + 1} attempts: ${message} ` +
        '(a host died or stopped answering while it ran)',
    },
  };
}

function isTargetResult(value: unknown): value is TargetResult {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record['outcome'] === 'string' && Array.isArray(record['applied']);
}

function messageIn(output: unknown): string | null {
  if (typeof output !== 'object' || output === null) return null;
  const record = output as { message?: unknown; value?: { message?: unknown } };
  const message = record.value?.message ?? record.message;
  return typeof message === 'string' ? message : null;
}

/** A target's identity in the queue: one job at a time per key. */
function singletonKeyOf(target: LocatedTarget): string {
  const parts = parsePostgresUrl(target.url);
  const server = typeof parts === 'string' ? '' : `${parts.host ?? ''}:${parts.port ?? '5432'}`;
  return `${server}/${target.database}/${target.schema}`;
}

/** A target's label: unique in its run. */
function keyOf(target: LocatedTarget): string {
  return target.target;
}

/** The URL without its password: the hosts find it as libpq does. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}

function failureMessage(result: QueueRunResult, queueName: string): string {
  const { counts } = result;
  if (result.stopped !== null)
    return (
      `Stopped following run ${result.run} (${counts.total - counts['not-run']} of ` +
      `${counts.total} targets finished); its jobs stay in ${queueName} for the hosts running ` +
      'offloop fleet work.'
    );
  return fleetFailedMessage(
    `${counts.failed} of ${counts.total} targets failed after their retries; their jobs are in ` +
      `the dead-letter queue ${deadLetterOf(queueName)}`,
    result.targets,
  );
}
