/**
 * What crosses the thread boundary for one task. Completion and failure travel in the task's
 * result (Piscina's promise); progress and cancel requests travel over per-task MessageChannels
 * with comlink. Errors travel as envelopes: structured clone would strip their class and fields.
 */
import type {
  CommandName,
  CommandOf,
  ErrorEnvelope,
  ProgressEvent,
  ResolvedConfig,
  VersionTable,
} from '@offloop/core';
import type { CrashOutcome, InFlightMigration, SchemaSelection } from '@offloop/core/engine';
import type { MessagePort } from 'node:worker_threads';

export type { CommandOf } from '@offloop/core';

/** A task for the worker: one engine command, with the ports for its progress and control. */
export type TaskRequest<N extends CommandName = CommandName> = {
  readonly config: ResolvedConfig;
  readonly command: CommandOf<N>;
  readonly events: MessagePort;
  readonly control: MessagePort;
  /**
   * Unique per call. The worker puts it into the `application_name` of its connections, so that
   * the host can find and cancel this call's backends on the server when the thread is gone.
   */
  readonly runTag: string;
  /** Tasks with one key share one reading of the migration files (a fleet's call). */
  readonly filesKey?: string | undefined;
};

/** What the worker returns: a value, or an error envelope to rebuild on the host. */
export type TaskResponse<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorEnvelope };

/** Exposed by the host on the events port (comlink). */
export type HostChannel = {
  /**
   * The worker picked the task up (it may have waited in Piscina's queue until now), on the
   * thread `threadId`: a pool that runs several tasks per thread terminates that one when a task
   * must be stopped by force.
   */
  started(threadId: number): void;
  /**
   * Answered once every message sent before it on the port has been handled: the task's result
   * travels on Piscina's port, so the worker waits for this before returning it.
   */
  sync(): void;
  /**
   * Wait for the turn of serial migration `version` (one target at a time across a fleet);
   * resolves at once outside a fleet, and when the call is stopped while it waits.
   */
  acquire(version: string): Promise<void>;
  /** Give the turn of serial migration `version` back. */
  release(version: string): void;
};

/**
 * Progress events, in order, batched, on the events port beside comlink's messages: one-way,
 * one message per burst and no reply (a fleet's thread sends thousands).
 */
export type ProgressMessage = { readonly progress: readonly ProgressEvent[] };

/** Whether a message on the events port is a {@link ProgressMessage} (not one of comlink's). */
export function isProgressMessage(data: unknown): data is ProgressMessage {
  return typeof data === 'object' && data !== null && 'progress' in data;
}

/** Exposed by the worker on the control port. */
export type WorkerControl = { abort(reason: string): void };

/** A task for the cancel worker (`cancel-entry.ts`): cancel the backends of a dead call. */
export type CancelRequest = {
  /** Where the call's connections went: `url`, and `lockUrl` when it differs. */
  readonly urls: readonly string[];
  readonly runTag: string;
  readonly connectTimeoutMs: number;
  /** How long to wait for cancelled backends to go away before terminating them. */
  readonly waitMs: number;
  /**
   * The migration the dead thread was running, if any: once its backends are gone, find out
   * whether it committed and log its failure if it rolled back (`recordCrash`).
   */
  readonly crash?:
    | {
        readonly url: string;
        /** The ledger: the config's `migrationsSchema` and `table`. */
        readonly versionTable: VersionTable;
        readonly appliedBy: string | null;
        readonly migration: InFlightMigration;
        readonly error: string;
        readonly durationMs: number;
      }
    | undefined;
};

/** What the cancel worker did, per backend pid. */
export type CancelResponse = {
  readonly cancelled: readonly number[];
  readonly terminated: readonly number[];
  /** Failures to reach a server, as messages; the cancel is best effort. */
  readonly errors: readonly string[];
  /** What became of the in-flight migration (see `CancelRequest.crash`); null when unknown. */
  readonly outcome?: CrashOutcome | null | undefined;
};

/**
 * A fleet's scan of one database (`thread/fleet-tasks.ts`): where each selected schema stands
 * against the migration files, in one connection and two queries, no lock.
 */
export type ScanRequest = {
  readonly url: string;
  readonly connectTimeout: number;
  /** How long the thread keeps the scan's connection for the next call (its catalog cache warm). */
  readonly keepMs: number;
  readonly dir: string;
  readonly table: string;
  readonly selection: SchemaSelection;
};

/** A fleet's `targetsQuery`, run on its control database: rows of `url` and `schema`. */
export type TargetsQueryRequest = {
  readonly url: string;
  readonly connectTimeout: number;
  readonly query: string;
};

/** A row of a fleet's `targetsQuery`. */
export type TargetRow = { readonly url: string; readonly schema: string | null };
