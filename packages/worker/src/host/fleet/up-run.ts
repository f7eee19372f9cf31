/**
 * A fleet's `up`, once its targets are scanned: leave out those already up to date, run the
 * canaries alone, one after another (a failed canary stops the fleet untouched), then the rest
 * within `concurrency` and the per-server bound, until done or the failure policy stops it.
 */
import {
  countOutcomes,
  FILES_ERROR_CODES,
  FleetFailedError,
  notRunResult,
  type FleetEvent,
  type FleetStop,
  type FleetUpResult,
  type ResolvedFleetConfig,
  type TargetResult,
} from '@offloop/core';
import { dispatch } from './dispatch.ts';
import { assertCanariesExist, failureMessage, pickCanaries, tooManyFailures } from './policy.ts';
import { perServerOf, type Scanned } from './scanner.ts';
import type { TargetRunner } from './target-run.ts';
import { namesOf, type ResolvedTarget } from './targets.ts';

/** What an `up` run needs from its fleet and its call. */
export type UpRunContext = {
  readonly config: ResolvedFleetConfig;
  readonly runner: TargetRunner;
  /** The call's stop (abort, timeout, the fleet's close), and why it fired. */
  readonly signal: AbortSignal;
  readonly reason: () => FleetStop;
  readonly emit: (event: FleetEvent) => void;
};

/**
 * Bring the scanned targets up to date. Resolves with each target's result, in the order of the
 * scan; rejects with `FleetFailedError` when a target failed or was cancelled, or the fleet stopped.
 */
export async function upScanned(
  scanned: readonly Scanned[],
  context: UpRunContext,
): Promise<FleetUpResult> {
  const startedAt = performance.now();
  assertCanariesExist(
    context.config.canary,
    scanned.map(({ target }) => target),
  );
  const run = new UpRun(scanned, context);
  await run.waves();
  const result = run.result(Math.round(performance.now() - startedAt));
  context.emit({ type: 'fleet:finished', counts: result.counts, stopped: result.stopped });
  if (result.counts.failed > 0 || result.counts.cancelled > 0 || result.stopped !== null)
    throw new FleetFailedError(failureMessage(result), result);
  return result;
}

/** One `up` in progress: its plan, each target's result as it comes, and why it stopped. */
class UpRun {
  readonly #scanned: readonly Scanned[];
  readonly #context: UpRunContext;
  readonly #results = new Map<ResolvedTarget, TargetResult>();
  readonly #versionOf: ReadonlyMap<ResolvedTarget, string | null>;
  readonly #canaries: readonly ResolvedTarget[];
  readonly #rest: readonly ResolvedTarget[];
  /** The call's targets share one reading of the files per thread (the engine's files-once.ts). */
  readonly #filesKey = `fleet:${Math.random().toString(36).slice(2)}`;
  #stopped: FleetStop = null;
  #failures = 0;
  #running = 0;

  /** Plans the run from the scan (and reports the plan). */
  constructor(scanned: readonly Scanned[], context: UpRunContext) {
    this.#scanned = scanned;
    this.#context = context;
    this.#versionOf = new Map(scanned.map(({ target, scan }) => [target, scan.version]));
    const toRun: ResolvedTarget[] = [];
    for (const { target, scan } of scanned) {
      if (scan.state === 'up-to-date')
        this.#results.set(target, notRunResult(namesOf(target), 'up-to-date', scan.version));
      else toRun.push(target);
    }
    const failedBefore = new Set(
      scanned.filter(({ scan }) => scan.state === 'failed').map(({ target }) => target),
    );
    const canaries = pickCanaries(context.config.canary, toRun, failedBefore);
    this.#canaries = canaries;
    this.#rest = toRun.filter((target) => !canaries.includes(target));
    context.emit({
      type: 'fleet:planned',
      total: scanned.length,
      upToDate: scanned.length - toRun.length,
      toRun: toRun.length,
      canaries: canaries.map((target) => target.label),
    });
    context.signal.addEventListener('abort', () => this.#stop(context.reason() ?? 'aborted'), {
      once: true,
    });
  }

  /** The canaries alone, one after another; then the rest. */
  async waves(): Promise<void> {
    const limits = {
      perServer: perServerOf(this.#context.config),
      serverOf: (target: ResolvedTarget) => target.server,
      stopped: () => this.#stopped !== null || this.#context.signal.aborted,
    };
    await dispatch(this.#canaries, { ...limits, concurrency: 1 }, (target) =>
      this.#run(target, true),
    );
    const concurrency = this.#context.config.concurrency;
    await dispatch(this.#rest, { ...limits, concurrency }, (target) => this.#run(target, false));
  }

  /** Every target's result, in the order of the scan: those that never ran are `not-run`. */
  result(durationMs: number): FleetUpResult {
    const targets = this.#scanned.map(
      ({ target }) =>
        this.#results.get(target) ??
        notRunResult(namesOf(target), 'not-run', this.#versionOf.get(target) ?? null),
    );
    return { targets, counts: countOutcomes(targets), stopped: this.#stopped, durationMs };
  }

  async #run(target: ResolvedTarget, canary: boolean): Promise<void> {
    const { emit, signal, runner } = this.#context;
    emit({ type: 'target:started', target: target.label, canary });
    this.#running += 1;
    const knownVersion = this.#versionOf.get(target) ?? null;
    const result = await runner.run(target, {
      canary,
      signal,
      knownVersion,
      filesKey: this.#filesKey,
    });
    this.#running -= 1;
    this.#results.set(target, result);
    if (result.outcome === 'failed') this.#failures += 1;
    emit({ type: 'target:finished', result });
    if (result.outcome !== 'failed' || signal.aborted) return;
    if (canary) this.#stop('canary-failed');
    // Every target would fail on the files the same way: no policy goes on with them.
    else if (FILES_ERROR_CODES.has(result.error?.code ?? '')) this.#stop('files');
    else if (
      tooManyFailures(
        this.#context.config.maxFailures,
        this.#failures,
        this.#canaries.length + this.#rest.length,
      )
    )
      this.#stop('failures');
  }

  #stop(reason: Exclude<FleetStop, null>): void {
    if (this.#stopped !== null) return;
    this.#stopped = reason;
    this.#context.emit({ type: 'fleet:stopping', reason, running: this.#running });
  }
}
