/**
 * One target's run: an ordinary `up` (a {@link Call}) on the fleet's threads, with the target's
 * database and schema, turned into the target's result. It never rejects: a failure is the
 * result's `error`.
 */
import {
  isOffloopError,
  targetErrorOf,
  type ResolvedConfig,
  type TargetResult,
  type UpResult,
} from '@offloop/core';
import { Call } from '../call.ts';
import { parseCall } from '../operations.ts';
import type { WorkerThread } from '../worker-thread.ts';
import { SerialTurns } from './serial.ts';
import { namesOf, type ResolvedTarget } from './targets.ts';

/** How one target runs within its fleet call. */
export type TargetRunOptions = {
  /** Whether it runs as a canary, before the rest. */
  readonly canary: boolean;
  /** Cancels its run: it rolls back its current migration and releases its lock. */
  readonly signal: AbortSignal;
  /** Where the scan found it: its version when its run failed before applying anything. */
  readonly knownVersion: string | null;
  /** Runs with one key share one reading of the files per thread (the engine's files-once.ts). */
  readonly filesKey?: string | undefined;
};

/** Runs a fleet's targets, each as one `up` on the fleet's threads. */
export class TargetRunner {
  readonly #base: ResolvedConfig;
  readonly #threads: WorkerThread;
  readonly #isClosed: () => boolean;
  readonly #command = upCommand();
  /** Serial migrations' turns, across every target of the fleet. */
  readonly #serial = new SerialTurns();

  constructor(base: ResolvedConfig, threads: WorkerThread, isClosed: () => boolean) {
    this.#base = base;
    this.#threads = threads;
    this.#isClosed = isClosed;
  }

  /** One target's `up`, as a result: never rejects. */
  async run(target: ResolvedTarget, options: TargetRunOptions): Promise<TargetResult> {
    const { signal } = options;
    const startedAt = performance.now();
    const base = { ...namesOf(target), canary: options.canary };
    const call = new Call(
      { config: targetConfig(this.#base, target), thread: this.#threads, isClosed: this.#isClosed },
      this.#command,
      { signal, timeoutMs: undefined, serial: this.#serial, filesKey: options.filesKey },
    );
    try {
      const result: UpResult = await call.run.result;
      return {
        ...base,
        outcome: 'applied',
        applied: result.applied,
        version: result.current,
        durationMs: Math.round(performance.now() - startedAt),
        error: null,
      };
    } catch (error) {
      const applied = appliedOf(error);
      return {
        ...base,
        outcome: signal.aborted ? 'cancelled' : 'failed',
        applied,
        version: applied.at(-1)?.version ?? options.knownVersion,
        durationMs: Math.round(performance.now() - startedAt),
        error: targetErrorOf(error),
      };
    }
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

/** What a failed run applied before it failed, from its error's details. */
function appliedOf(error: unknown): TargetResult['applied'] {
  const details = isOffloopError(error) ? (error.details as { applied?: unknown }) : undefined;
  return Array.isArray(details?.applied) ? (details.applied as TargetResult['applied']) : [];
}
