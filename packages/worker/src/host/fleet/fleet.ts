/**
 * The fleet API: {@link createFleet}. One set of migration files, many targets (tenant schemas,
 * tenant databases), each migrated by an ordinary `up` with its own lock and ledger, many at once
 * on a pool of worker threads. The host only dispatches: every connection, file and query is in
 * the threads, so a server runs a fleet without its loop noticing.
 *
 * A fleet's `up`: gather the targets; scan each database once (one connection, two queries) and
 * leave out the targets already up to date; run the canaries alone, one after another (a failed
 * canary stops the fleet untouched); then the rest, within `concurrency` and the per-server cap,
 * until done or the failure policy stops it.
 */
import {
  FleetBehindError,
  FleetFailedError,
  fromEnvelope,
  isOffloopError,
  parseDuration,
  parseFleetConfig,
  countOutcomes,
  type FleetEvent,
  type FleetInput,
  type FleetStatusResult,
  type FleetStop,
  type FleetTarget,
  type FleetUpResult,
  type LocatedTarget,
  type ResolvedConfig,
  type ResolvedFleetConfig,
  type TargetResult,
  type TargetState,
  type TargetStatus,
  type UpResult,
} from '@offloop/core';
import type { ScannedSchema, ScanResult, SchemaSelection } from '@offloop/core/engine';
import type { ScanRequest, TargetRow, TargetsQueryRequest, TaskResponse } from '../../protocol.ts';
import { Call } from '../call.ts';
import { parseCall } from '../operations.ts';
import { WorkerThread } from '../worker-thread.ts';
import { dispatch } from './dispatch.ts';
import { SerialTurns } from './serial.ts';
import { gatherTargets, type ResolvedTarget } from './targets.ts';

/** Options of {@link createFleet}: a migrator's options, plus where the targets come from and how they run. */
export type FleetOptions = FleetInput;

/** What a fleet call takes besides its options. */
export type FleetCallOptions = {
  /** Receives the fleet's progress on the host's loop: the plan, each target's start and end. */
  readonly onProgress?: ((event: FleetEvent) => void) | undefined;
  /**
   * Cancels the call: nothing more starts, the targets in flight are cancelled (each rolls back
   * its current migration and releases its lock), and the call rejects with `FLEET_FAILED`,
   * `details.stopped` `"aborted"`.
   */
  readonly signal?: AbortSignal | undefined;
  /** A time limit for the whole call, in ms or as `"30m"`; then as a cancel, `stopped: "timeout"`. */
  readonly timeout?: number | string | undefined;
};

/** Migrates many targets with one set of files. Create one with {@link createFleet}. */
export type Fleet = AsyncDisposable & {
  /** The validated options. */
  readonly config: ResolvedFleetConfig;
  /**
   * Bring every target up to date. Resolves with each target's result when all are; rejects
   * with `FleetFailedError` (`FLEET_FAILED`), whose `details` hold every target's result, when a
   * target failed or the fleet stopped early. Run it again to finish: it skips what is done.
   */
  up(options?: FleetCallOptions): Promise<FleetUpResult>;
  /** Where each target stands, from one query per database. Read-only, no lock. */
  status(options?: FleetCallOptions): Promise<FleetStatusResult>;
  /** Resolve when every target is up to date; reject with `FleetBehindError` (`FLEET_BEHIND`) otherwise. */
  check(options?: FleetCallOptions): Promise<FleetStatusResult>;
  /**
   * Every target, in the order of `status()`, with where it stands and the URL that reaches it:
   * what a caller that dispatches the targets itself (a job queue) needs. Read-only, no lock.
   */
  targets(options?: FleetCallOptions): Promise<readonly LocatedTarget[]>;
  /**
   * Migrate one target through this fleet's threads (no scan, no canary): what a queue worker
   * does with a job. Never rejects: a failure is the result's `error`.
   */
  upTarget(target: FleetTarget, options?: FleetCallOptions): Promise<TargetResult>;
  /** Stop the threads. Calls still running are cancelled first. */
  close(): Promise<void>;
};

/**
 * Create a fleet. Options are validated at once (a `ConfigError` lists every problem); no thread
 * starts until the first call.
 *
 * @example
 * ```ts
 * import { createFleet } from '@offloop/worker';
 *
 * await using fleet = createFleet({ url: process.env.DATABASE_URL, schemas: 'tenant_*' });
 * const result = await fleet.up({ onProgress: (event) => log.info(event) });
 * ```
 */
export function createFleet(options: FleetOptions): Fleet {
  return new ThreadFleet(parseFleetConfig(options));
}

/** A target found by the scan, with where it stood. */
type Scanned = { readonly target: ResolvedTarget; readonly scan: ScannedSchema };

class ThreadFleet implements Fleet {
  readonly config: ResolvedFleetConfig;
  readonly #threads: WorkerThread;
  readonly #upCommand = upCommand();
  /** Stops what runs when the fleet is closed. */
  readonly #closing = new AbortController();
  readonly #running = new Set<Promise<unknown>>();
  /** Serial migrations' turns, across every target of this fleet. */
  readonly #serial = new SerialTurns();
  /** The newest migration file, as the last scan found it. */
  #latest: string | null = null;

  constructor(config: ResolvedFleetConfig) {
    this.config = config;
    const tasksPerThread = Math.max(1, Math.ceil(config.concurrency / config.threads));
    this.#threads = new WorkerThread(config.base, { threads: config.threads, tasksPerThread });
  }

  up(options: FleetCallOptions = {}): Promise<FleetUpResult> {
    return this.#track(this.#withStop(options, (stop) => this.#up(options, stop)));
  }

  status(options: FleetCallOptions = {}): Promise<FleetStatusResult> {
    return this.#track(
      this.#withStop(options, async () => statusOf(await this.#scanAll(), this.#latest)),
    );
  }

  async check(options: FleetCallOptions = {}): Promise<FleetStatusResult> {
    const status = await this.status(options);
    if (status.counts['up-to-date'] === status.counts.total) return status;
    const behind = status.counts.total - status.counts['up-to-date'];
    throw new FleetBehindError(
      `${behind} of ${status.counts.total} targets are not up to date ` +
        `(${describeCounts(status.counts)}); run offloop fleet up.`,
      status,
    );
  }

  targets(options: FleetCallOptions = {}): Promise<readonly LocatedTarget[]> {
    return this.#track(
      this.#withStop(options, async () => {
        const scanned = await this.#scanAll();
        return scanned.map((each) => ({ ...targetStatus(each), url: each.target.url }));
      }),
    );
  }

  upTarget(target: FleetTarget, options: FleetCallOptions = {}): Promise<TargetResult> {
    return this.#track(
      this.#withStop(options, async (stop) => {
        const [resolved] = await gatherTargets(
          { ...this.config, sources: [{ kind: 'list', targets: [target] }] },
          { schemasOf: () => Promise.resolve([]), rowsOf: () => Promise.resolve([]) },
        );
        if (resolved === undefined) throw new Error('no target');
        return this.#runTarget(resolved, false, stop.signal, null);
      }),
    );
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled(this.#running);
    await this.#threads.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#running.add(promise);
    void promise.then(
      () => this.#running.delete(promise),
      () => this.#running.delete(promise),
    );
    return promise;
  }

  /** Run `fn` with one signal for the caller's abort, the timeout and the fleet's close. */
  async #withStop<T>(
    options: FleetCallOptions,
    fn: (stop: { signal: AbortSignal; reason: () => FleetStop }) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    let reason: FleetStop = null;
    const stopWith = (why: Exclude<FleetStop, null>) => () => {
      reason ??= why;
      controller.abort();
    };
    const onAbort = stopWith('aborted');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.#closing.signal.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted === true || this.#closing.signal.aborted) onAbort();
    const timeoutMs = timeoutOf(options.timeout);
    const timer = timeoutMs > 0 ? setTimeout(stopWith('timeout'), timeoutMs) : undefined;
    try {
      return await fn({ signal: controller.signal, reason: () => reason });
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      this.#closing.signal.removeEventListener('abort', onAbort);
    }
  }

  async #up(
    options: FleetCallOptions,
    stop: { signal: AbortSignal; reason: () => FleetStop },
  ): Promise<FleetUpResult> {
    const startedAt = performance.now();
    const emit = listenerOf(options.onProgress);
    // The call's targets share one reading of the files per thread (the engine's files-once.ts).
    const filesKey = `fleet:${Math.random().toString(36).slice(2)}`;
    const scanned = await this.#scanAll();
    const results = new Map<ResolvedTarget, TargetResult>();
    const toRun: ResolvedTarget[] = [];
    for (const { target, scan } of scanned) {
      if (scan.state === 'up-to-date')
        results.set(target, notRun(target, 'up-to-date', scan.version));
      else toRun.push(target);
    }
    const failedBefore = new Set(
      scanned.filter(({ scan }) => scan.state === 'failed').map(({ target }) => target),
    );
    const canaries = this.#canaries(toRun, failedBefore);
    const rest = toRun.filter((target) => !canaries.includes(target));
    emit({
      type: 'fleet:planned',
      total: scanned.length,
      upToDate: scanned.length - toRun.length,
      toRun: toRun.length,
      canaries: canaries.map((target) => target.label),
    });
    const versionOf = new Map(scanned.map(({ target, scan }) => [target, scan.version]));
    let stopped: FleetStop = null;
    let failures = 0;
    let finished = 0;
    let running = 0;
    const stopWith = (reason: Exclude<FleetStop, null>) => {
      if (stopped !== null) return;
      stopped = reason;
      emit({ type: 'fleet:stopping', reason, running });
    };
    stop.signal.addEventListener('abort', () => stopWith(stop.reason() ?? 'aborted'), {
      once: true,
    });
    const record = (result: TargetResult, target: ResolvedTarget) => {
      results.set(target, result);
      finished += 1;
      if (result.outcome === 'failed') failures += 1;
      emit({ type: 'target:finished', result });
    };
    const run = async (target: ResolvedTarget, canary: boolean) => {
      emit({ type: 'target:started', target: target.label, canary });
      running += 1;
      const result = await this.#runTarget(
        target,
        canary,
        stop.signal,
        versionOf.get(target) ?? null,
        filesKey,
      );
      running -= 1;
      record(result, target);
      if (result.outcome !== 'failed' || stop.signal.aborted) return;
      if (canary) stopWith('canary-failed');
      else if (this.#tooManyFailures(failures, finished)) stopWith('failures');
    };
    const isStopped = () => stopped !== null || stop.signal.aborted;
    const limits = {
      perServer: Math.max(1, Math.floor(this.config.maxConnectionsPerServer / 2)),
      serverOf: (target: ResolvedTarget) => target.server,
      stopped: isStopped,
    };
    // Canaries alone, one after another; then the rest.
    await dispatch(canaries, { ...limits, concurrency: 1 }, (target) => run(target, true));
    await dispatch(rest, { ...limits, concurrency: this.config.concurrency }, (target) =>
      run(target, false),
    );
    const ordered = scanned.map(
      ({ target }) =>
        results.get(target) ?? notRun(target, 'not-run', versionOf.get(target) ?? null),
    );
    const counts = countOutcomes(ordered);
    emit({ type: 'fleet:finished', counts, stopped });
    const result: FleetUpResult = {
      targets: ordered,
      counts,
      stopped,
      durationMs: performance.now() - startedAt,
    };
    if (counts.failed > 0 || counts.cancelled > 0 || stopped !== null)
      throw new FleetFailedError(failureMessage(result), result);
    return result;
  }

  /**
   * The canaries among the targets to run: those `canary` names, or the first `canary` of them,
   * taken first from the targets whose last run did not fail (a rerun after a partial failure
   * tries a healthy target first, not the one that failed last time).
   */
  #canaries(
    toRun: readonly ResolvedTarget[],
    failedBefore: ReadonlySet<ResolvedTarget>,
  ): ResolvedTarget[] {
    const { canary } = this.config;
    if (typeof canary === 'number') {
      const healthy = toRun.filter((target) => !failedBefore.has(target));
      const failed = toRun.filter((target) => failedBefore.has(target));
      return [...healthy, ...failed].slice(0, canary);
    }
    return toRun.filter((target) =>
      canary.some(
        (name) =>
          name === target.label ||
          name === target.schema ||
          name === target.database ||
          name === `${target.database}/${target.schema}`,
      ),
    );
  }

  #tooManyFailures(failures: number, finished: number): boolean {
    const limit = this.config.maxFailures;
    if (limit === null) return false;
    if ('count' in limit) return failures >= limit.count;
    return finished > 0 && failures / finished > limit.share;
  }

  /** One target's `up`, as a result: never rejects. */
  async #runTarget(
    target: ResolvedTarget,
    canary: boolean,
    signal: AbortSignal,
    knownVersion: string | null,
    filesKey?: string,
  ): Promise<TargetResult> {
    const config = targetConfig(this.config.base, target);
    const startedAt = performance.now();
    const base = {
      target: target.label,
      database: target.database,
      schema: target.schema,
      canary,
    };
    const call = new Call(
      { config, thread: this.#threads, isClosed: () => this.#closing.signal.aborted },
      this.#upCommand,
      { signal, timeoutMs: undefined, serial: this.#serial, filesKey },
    );
    try {
      const result: UpResult = await call.run.result;
      return {
        ...base,
        outcome: 'applied',
        applied: result.applied,
        version: result.current,
        durationMs: performance.now() - startedAt,
        error: null,
      };
    } catch (error) {
      const applied = appliedOf(error);
      return {
        ...base,
        outcome: signal.aborted ? 'cancelled' : 'failed',
        applied,
        version: applied.at(-1)?.version ?? knownVersion,
        durationMs: performance.now() - startedAt,
        error: isOffloopError(error)
          ? { code: error.code, message: error.message }
          : { code: 'INTERNAL_ERROR', message: String(error) },
      };
    }
  }

  /** Every target, with where it stands: one scan per database, several databases at once. */
  async #scanAll(): Promise<Scanned[]> {
    const scannedGlobs = new Map<string, readonly ScannedSchema[]>();
    const targets = await gatherTargets(this.config, {
      schemasOf: async (url, pattern) => {
        const found = (await this.#scan(url, { pattern })).schemas;
        scannedGlobs.set(`${url}\u0000${pattern}`, found);
        return found.map((each) => each.schema);
      },
      rowsOf: (url, query) => this.#targetsQuery(url, query),
    });
    const byDatabase = new Map<string, ResolvedTarget[]>();
    for (const target of targets) {
      const list = byDatabase.get(target.databaseKey) ?? [];
      list.push(target);
      byDatabase.set(target.databaseKey, list);
    }
    // A glob's scan already says where its schemas stand: a database scanned for a glob alone is
    // not scanned again.
    const known = new Map<string, ScannedSchema>();
    for (const [key, found] of scannedGlobs) {
      const url = key.slice(0, key.indexOf('\u0000'));
      for (const each of found) known.set(`${url}\u0000${each.schema}`, each);
    }
    const states = new Map<ResolvedTarget, ScannedSchema>();
    const failedScans = new Map<string, unknown>();
    const groups = [...byDatabase.values()].map((group) => {
      const unknown = group.filter((target) => {
        const found = known.get(`${target.url}\u0000${target.schema}`);
        if (found !== undefined) states.set(target, found);
        return found === undefined;
      });
      return unknown;
    });
    await dispatch(
      groups.filter((group) => group.length > 0),
      {
        concurrency: this.config.concurrency,
        perServer: Math.max(1, Math.floor(this.config.maxConnectionsPerServer / 2)),
        serverOf: (group) => group[0]?.server ?? '',
        stopped: () => false,
      },
      async (group) => {
        const first = group[0];
        if (first === undefined) return;
        const names = group.map((target) => target.schema);
        try {
          const found = (await this.#scan(first.url, { names })).schemas;
          group.forEach((target, index) => {
            const state = found[index];
            if (state !== undefined) states.set(target, state);
          });
        } catch (error) {
          // A database that cannot be read is that database's targets' problem, not the
          // fleet's: `status` reports them unreachable, `up` runs them and reports their error.
          failedScans.set(first.databaseKey, error);
        }
      },
    );
    return targets.map((target) => ({
      target,
      scan: states.get(target) ?? unreachable(target, failedScans.get(target.databaseKey)),
    }));
  }

  async #scan(url: string, selection: SchemaSelection): Promise<ScanResult> {
    const { base } = this.config;
    const request: ScanRequest = {
      url,
      connectTimeout: base.connectTimeout,
      keepMs: base.workerIdleTimeout,
      dir: base.dir,
      table: base.table,
      selection,
    };
    const result = unwrap(await this.#threads.runNamed<ScanResult>('scan', request));
    this.#latest = result.latest;
    return result;
  }

  async #targetsQuery(url: string, query: string): Promise<TargetRow[]> {
    const request: TargetsQueryRequest = {
      url,
      connectTimeout: this.config.base.connectTimeout,
      query,
    };
    return unwrap(await this.#threads.runNamed<TargetRow[]>('targetsQuery', request));
  }
}

/** The `up` command every target runs (no options: a fleet applies everything pending). */
function upCommand() {
  const parsed = parseCall('up', {});
  if (!parsed.success) throw parsed.error;
  return parsed.command;
}

/**
 * A target's own configuration: the fleet's, with the target's database and schema, where its
 * migrations run and its ledger (and so its lock keys) live.
 */
function targetConfig(base: ResolvedConfig, target: ResolvedTarget): ResolvedConfig {
  return { ...base, url: target.url, schema: target.schema, migrationsSchema: target.schema };
}

function unwrap<T>(response: TaskResponse<T>): T {
  if (response.ok) return response.value;
  throw fromEnvelope(response.error);
}

function timeoutOf(timeout: number | string | undefined): number {
  if (timeout === undefined) return 0;
  const value = parseDuration(timeout);
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** Events to the listener, each in its own microtask: a listener that throws stops nothing. */
function listenerOf(
  listener: ((event: FleetEvent) => void) | undefined,
): (event: FleetEvent) => void {
  if (listener === undefined) return () => undefined;
  return (event) => queueMicrotask(() => listener(event));
}

/** Where a target stands when its database could not be scanned. */
function unreachable(target: ResolvedTarget, error: unknown): ScannedSchema {
  const message = error instanceof Error ? error.message : `could not scan ${target.database}`;
  return {
    schema: target.schema,
    state: 'unreachable',
    version: null,
    appliedCount: 0,
    pendingCount: 0,
    lastError: { version: '', message, at: new Date().toISOString() },
  };
}

function notRun(
  target: ResolvedTarget,
  outcome: 'up-to-date' | 'not-run',
  version: string | null,
): TargetResult {
  return {
    target: target.label,
    database: target.database,
    schema: target.schema,
    outcome,
    applied: [],
    version,
    durationMs: 0,
    canary: false,
    error: null,
  };
}

function appliedOf(error: unknown): TargetResult['applied'] {
  const details = isOffloopError(error) ? (error.details as { applied?: unknown }) : undefined;
  return Array.isArray(details?.applied) ? (details.applied as TargetResult['applied']) : [];
}

function describeCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([key, count]) => key !== 'total' && count > 0)
    .map(([key, count]) => `${count} ${key}`)
    .join(', ');
}

function failureMessage(result: FleetUpResult): string {
  const { counts, stopped } = result;
  const firstFailed = result.targets.find((target) => target.outcome === 'failed');
  const why =
    stopped === 'canary-failed'
      ? 'the canary failed, and no other target was touched'
      : stopped === 'failures'
        ? 'the failure policy stopped it'
        : stopped === 'aborted'
          ? 'it was cancelled'
          : stopped === 'timeout'
            ? 'it ran out of time'
            : `${counts.failed} target${counts.failed === 1 ? '' : 's'} failed`;
  const first =
    firstFailed?.error === null || firstFailed === undefined
      ? ''
      : ` First failure: ${firstFailed.target}: ${firstFailed.error.code}: ${firstFailed.error.message}`;
  return (
    `The fleet did not finish: ${why} (${describeCounts(counts)} of ${counts.total}). ` +
    `Fix the cause and run it again: it skips what is done.${first}`
  );
}

/** Where one target stands, from its scan. */
function targetStatus({ target, scan }: Scanned): TargetStatus {
  return {
    target: target.label,
    database: target.database,
    schema: target.schema,
    state: scan.state,
    version: scan.version,
    appliedCount: scan.appliedCount,
    pendingCount: scan.pendingCount,
    lastError: scan.lastError,
  };
}

/** A fleet's status from its scan. */
function statusOf(scanned: readonly Scanned[], latest: string | null): FleetStatusResult {
  const targets = scanned.map(targetStatus);
  const counts = {
    total: targets.length,
    'up-to-date': 0,
    behind: 0,
    failed: 0,
    diverged: 0,
    unreachable: 0,
  } satisfies Record<TargetState | 'total', number>;
  const versions = new Map<string | null, number>();
  for (const target of targets) {
    counts[target.state] += 1;
    versions.set(target.version, (versions.get(target.version) ?? 0) + 1);
  }
  return {
    targets,
    latest,
    versions: [...versions]
      .map(([version, count]) => ({ version, count }))
      .sort((a, b) => (b.version ?? '').localeCompare(a.version ?? '')),
    counts,
  };
}
