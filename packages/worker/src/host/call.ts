/**
 * {@link Call}: one call of the host API across the thread boundary, from its task to its typed
 * result or error.
 *
 * Stopping a call, in order of preference: ask the worker over the control port (the engine stops
 * between statements and cancels a running statement on the server); after `cancelGracePeriod`,
 * terminate the thread and cancel what it left running on the server from a fresh thread
 * (`cancel-on-server.ts`). A thread that dies by itself (out of memory, `process.exit()`, an
 * uncaught error) gets the same server-side cleanup.
 */
import {
  fromEnvelope,
  MigratorClosedError,
  RunAbortedError,
  type CommandName,
  type CommandResults,
  type MigrationResult,
  type ProgressEvent,
  type ProgressListener,
  type ResolvedConfig,
} from '@offloop/core';
import type { CrashOutcome } from '@offloop/core/engine';
import * as Comlink from 'comlink';
import { portEndpoint } from '../port-endpoint.ts';
import { MessageChannel } from 'node:worker_threads';
import {
  isProgressMessage,
  type CommandOf,
  type HostChannel,
  type TaskRequest,
  type TaskResponse,
  type WorkerControl,
} from '../protocol.ts';
import { cancelOnServer } from './cancel-on-server.ts';
import {
  crashError,
  describeCrash,
  describeOutcome,
  settleApplied,
  type InFlight,
} from './crash.ts';
import type { SerialTurns } from './fleet/serial.ts';
import { BufferedMigrationRun } from './migration-run.ts';
import {
  describeStop,
  stopError,
  terminatedError,
  terminatedLogLine,
  type StopReason,
} from './stop.ts';
import type { TaskOutcome, WorkerThread } from './worker-thread.ts';

/** What a call needs from its migrator. */
export type CallContext = {
  readonly config: ResolvedConfig;
  readonly thread: WorkerThread;
  /** Whether the migrator was closed: a closed migrator refuses calls and names crashes so. */
  readonly isClosed: () => boolean;
};

/** How the caller watches and bounds a call. */
type CallSettings = {
  readonly onProgress?: ProgressListener | undefined;
  readonly signal?: AbortSignal | undefined;
  /** 0 or undefined: no timeout. */
  readonly timeoutMs: number | undefined;
  /** The turns of serial migrations, in a fleet; without it they run at once. */
  readonly serial?: SerialTurns | undefined;
  /** Calls with one key share one reading of the files in their thread (a fleet's call). */
  readonly filesKey?: string | undefined;
};

/** The thread did not stop when asked within `cancelGracePeriod`, or never yielded. */
type Unresponsive = { readonly kind: 'unresponsive' };

/** What the server said after the call's backends were cancelled. */
type Cleanup = {
  readonly kept: readonly MigrationResult[];
  readonly outcome: CrashOutcome | null;
  readonly errors: readonly string[];
};

/** One call: it starts at once (queued behind the migrator's earlier calls) and settles `run`. */
export class Call<N extends CommandName> {
  /** What the caller gets: the result, and the progress events as they arrive. */
  readonly run: BufferedMigrationRun<CommandResults[N]>;

  readonly #context: CallContext;
  readonly #command: CommandOf<N>;
  readonly #settings: CallSettings;
  /** Unique per call: tags its connections, so the server-side cancel finds them. */
  readonly #runTag = runTag();
  readonly #events = new MessageChannel();
  readonly #control = new MessageChannel();
  /** Drops the task from the queue, or terminates the thread running it. */
  readonly #taskAbort = new AbortController();
  readonly #unresponsive = Promise.withResolvers<Unresponsive>();
  #worker: Comlink.Remote<WorkerControl> | null = null;
  /** Fires when the call is asked to stop: a wait for a serial turn ends. */
  readonly #stopping = new AbortController();
  /** The serial turns the worker holds. */
  readonly #turns = new Set<string>();

  // What the thread has done, as its events say: for errors raised on the host when the worker
  // cannot report them (it died or was terminated).
  readonly #applied: MigrationResult[] = [];
  /** The migration the thread runs. */
  #inFlight: InFlight | null = null;
  /** The migration file the thread imports (its top-level code runs). */
  #loading: string | null = null;
  /** The worker picked the task up (until then it waits in the thread's queue). */
  #started = false;
  /** The thread that runs the task, once it started. */
  #threadId: number | null = null;
  #stopReason: StopReason | null = null;
  /** The thread's exit code, when it ended without an error of its own. */
  #exitCode: number | null = null;
  #unwatchThread: () => void = () => undefined;

  #timeoutTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  /** The backstop for a migration that runs past migrationTimeout with its loop blocked. */
  #migrationTimer: NodeJS.Timeout | undefined;

  constructor(context: CallContext, command: CommandOf<N>, settings: CallSettings) {
    this.#context = context;
    this.#command = command;
    this.#settings = settings;
    this.run = new BufferedMigrationRun(this.#execute());
  }

  /**
   * Ask the call to stop: a queued task is dropped; a running one is asked to stop over the
   * control port and terminated if it has not within `cancelGracePeriod`. The first reason wins.
   */
  stop(reason: StopReason): void {
    if (this.#worker === null || this.#stopReason !== null) return;
    this.#stopReason = reason;
    this.#stopping.abort();
    // Still queued behind another call: Piscina drops it from the queue.
    if (!this.#started) return this.#taskAbort.abort();
    void this.#worker.abort(describeStop(reason)).catch(() => undefined);
    this.#graceTimer = setTimeout(
      () => this.#unresponsive.resolve({ kind: 'unresponsive' }),
      this.#context.config.cancelGracePeriod,
    );
  }

  async #execute(): Promise<CommandResults[N]> {
    this.#refuseToStart();
    this.#open();
    try {
      const request: TaskRequest<N> = {
        command: this.#command,
        config: this.#context.config,
        events: this.#events.port2,
        control: this.#control.port2,
        runTag: this.#runTag,
        filesKey: this.#settings.filesKey,
      };
      const task = this.#context.thread.run<N>(
        request,
        this.#taskAbort.signal,
        () => this.#threadId,
      );
      return await this.#settle(await Promise.race([task, this.#unresponsive.promise]));
    } finally {
      this.#close();
    }
  }

  /** A closed migrator, or a signal aborted already: the call fails before it starts. */
  #refuseToStart(): void {
    const { signal } = this.#settings;
    if (this.#context.isClosed())
      throw new MigratorClosedError('This migrator was closed; create a new one.', {});
    if (signal?.aborted)
      throw new RunAbortedError(
        'The run was cancelled before it started.',
        { applied: [] },
        { cause: signal.reason },
      );
  }

  /** Open the channels to the worker, and start listening for the signal and the timeout. */
  #open(): void {
    const host: HostChannel = {
      started: (threadId) => this.#onStarted(threadId),
      sync: () => undefined,
      acquire: (version) => this.#acquire(version),
      release: (version) => this.#release(version),
    };
    const events = this.#events.port1;
    events.on('message', (data: unknown) => {
      if (isProgressMessage(data)) this.#onProgress(data.progress);
    });
    Comlink.expose(host, portEndpoint(events, isProgressMessage));
    this.#worker = Comlink.wrap<WorkerControl>(portEndpoint(this.#control.port1));
    this.#settings.signal?.addEventListener('abort', this.#onAbort, { once: true });
    const { timeoutMs } = this.#settings;
    if (timeoutMs !== undefined && timeoutMs !== 0)
      this.#timeoutTimer = setTimeout(() => this.stop({ kind: 'timeout', timeoutMs }), timeoutMs);
  }

  readonly #onAbort = () => this.stop({ kind: 'abort', cause: this.#settings.signal?.reason });

  #onStarted(threadId: number): void {
    this.#started = true;
    this.#threadId = threadId;
    // Stopped while it waited in a pool that could not drop it (several tasks per thread).
    const reason = this.#stopReason;
    if (reason !== null) {
      this.#stopReason = null;
      this.stop(reason);
    }
    this.#unwatchThread = this.#context.thread.onExit((code) => {
      this.#exitCode = code;
    });
  }

  #onProgress(batch: readonly ProgressEvent[]): void {
    const listener = this.#settings.onProgress;
    for (const event of batch) {
      this.#track(event);
      this.run.push(event);
      if (listener !== undefined) queueMicrotask(() => listener(event));
    }
  }

  /** Follow what the thread is doing, for the errors raised when it dies. */
  #track(event: ProgressEvent): void {
    if (event.type === 'migration:loading') this.#loading = event.file;
    if (event.type === 'plan:ready') this.#loading = null;
    if (event.type === 'migration:started') {
      this.#loading = null;
      const { version, name, file, direction, transactional, checksum } = event;
      const migration = { version, name, file, direction, transactional, checksum };
      this.#inFlight = { ...migration, startedAt: performance.now() };
      this.#watchMigrationTimeout(this.#inFlight);
    }
    if (event.type === 'migration:finished') {
      this.#inFlight = null;
      clearTimeout(this.#migrationTimer);
      const { version, name, file, direction, durationMs } = event;
      this.#applied.push({ version, name, file, direction, durationMs });
    }
  }

  /**
   * The worker ends a migration at its migrationTimeout itself; this is the backstop for a thread
   * whose loop is blocked (a module spinning in JavaScript), which cannot: the same migration
   * still running cancelGracePeriod later has its thread terminated.
   */
  #watchMigrationTimeout(migration: InFlight): void {
    clearTimeout(this.#migrationTimer);
    const { migrationTimeout, cancelGracePeriod } = this.#context.config;
    if (migrationTimeout <= 0) return;
    this.#migrationTimer = setTimeout(() => {
      if (this.#inFlight === migration)
        this.#giveUp({ kind: 'migration-timeout', migration, timeoutMs: migrationTimeout });
    }, migrationTimeout + cancelGracePeriod);
  }

  /** Stop waiting for a thread that cannot answer: it is terminated. */
  #giveUp(reason: StopReason): void {
    this.#stopReason ??= reason;
    this.#unresponsive.resolve({ kind: 'unresponsive' });
  }

  #settle(outcome: TaskOutcome<CommandResults[N]> | Unresponsive): Promise<CommandResults[N]> {
    switch (outcome.kind) {
      case 'settled':
        return Promise.resolve(this.#answered(outcome.response));
      case 'crashed':
        return this.#crashed(outcome.error);
      case 'unresponsive':
        return this.#terminate();
    }
  }

  /** The worker answered: its result, or its error (the stop's own error when it was asked to stop). */
  #answered(response: TaskResponse<CommandResults[N]>): CommandResults[N] {
    if (response.ok) return response.value;
    const error = fromEnvelope(response.error);
    if (this.#stopReason !== null && error instanceof RunAbortedError)
      throw stopError(this.#stopReason, error.details.applied, error);
    throw error;
  }

  /** The thread died by itself: clean up on the server, then say what became of the work. */
  async #crashed(error: unknown): Promise<never> {
    const reason = this.#stopReason;
    if (reason !== null && !this.#started) throw stopError(reason, this.#applied, error);
    const running = this.#inFlight;
    const crash = describeCrash(error, this.#exitCode, this.#context.isClosed());
    const { kept, outcome } = await this.#cleanUpOnServer(running, crash.logLine);
    throw crashError({ crash, error, kept, running, loading: this.#loading, outcome });
  }

  /** The thread did not stop: terminate it, clean up on the server, say what became of the work. */
  async #terminate(): Promise<never> {
    const reason = this.#stopReason ?? { kind: 'closed' };
    this.#taskAbort.abort(); // Piscina terminates the thread; a new one serves the next call.
    const running = this.#inFlight;
    const graceMs = this.#context.config.cancelGracePeriod;
    const cleanup = await this.#cleanUpOnServer(running, terminatedLogLine(reason, graceMs));
    const what = describeOutcome(running, cleanup.outcome);
    throw terminatedError({
      reason,
      graceMs,
      kept: cleanup.kept,
      what,
      cleanupErrors: cleanup.errors,
    });
  }

  /**
   * The thread is gone, its sockets with it, but a statement it started may still run: cancel
   * the call's backends, and learn whether the migration it ran committed.
   */
  async #cleanUpOnServer(running: InFlight | null, logLine: string): Promise<Cleanup> {
    const response = await cancelOnServer(this.#context.config, this.#runTag, running, logLine);
    const outcome = response.outcome ?? null;
    return {
      kept: settleApplied(this.#applied, running, outcome),
      outcome,
      errors: response.errors,
    };
  }

  async #acquire(version: string): Promise<void> {
    const turns = this.#settings.serial;
    if (turns === undefined) return;
    if (await turns.acquire(version, this.#stopping.signal)) this.#turns.add(version);
  }

  #release(version: string): void {
    if (this.#turns.delete(version)) this.#settings.serial?.release(version);
  }

  /** Release what the call holds: timers, the signal's listener, the channels, serial turns. */
  #close(): void {
    for (const version of this.#turns) this.#release(version);
    clearTimeout(this.#timeoutTimer);
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#migrationTimer);
    this.#unwatchThread();
    this.#settings.signal?.removeEventListener('abort', this.#onAbort);
    this.#worker?.[Comlink.releaseProxy]();
    this.#worker = null; // A stop from now on has nothing to stop.
    this.#events.port1.close();
    this.#control.port1.close();
  }
}

/**
 * A call's tag, `offloop:` and 12 hex digits (48 random bits): what finds its backends on the
 * server (thread/application-name.ts). Unique, not secret: Math.random, so that a call does not
 * load `node:crypto` on the host (about 5 ms).
 */
function runTag(): string {
  const bits = Math.floor(Math.random() * 2 ** 48);
  return `offloop:${bits.toString(16).padStart(12, '0')}`;
}
