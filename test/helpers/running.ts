/**
 * A process the test steers while it runs: wait for a line of its output, signal it, bound its
 * life. {@link exec} in `cli.ts` is for a process that is only awaited.
 *
 * No ava import: `scripts/chaos.ts` uses it too.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { LIBPQ_ENVIRONMENT } from '@offloop/core';
import { BIN, type ExecOptions, type Result } from './cli.ts';

/** How a bounded wait for the exit ended: the exit, or `timedOut` after the process was killed. */
export type BoundedResult = Result & { readonly timedOut: boolean; readonly elapsedMs: number };

/** One child process and everything it printed so far. */
export class RunningProcess {
  readonly #child: ChildProcessByStdio<null, Readable, Readable>;
  readonly #started = performance.now();
  readonly #exited: Promise<Result>;
  #stdout = '';
  #stderr = '';
  #listeners = new Set<() => void>();

  constructor(file: string, args: readonly string[], options: ExecOptions = {}) {
    const env: Record<string, string | undefined> = {
      ...process.env,
      NO_COLOR: '1',
      ...options.env,
    };
    for (const name of ['DATABASE_URL', ...LIBPQ_ENVIRONMENT])
      if (options.env?.[name] === undefined) delete env[name];
    this.#child = spawn(file, args, {
      cwd: options.cwd ?? tmpdir(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stdout += chunk;
      this.#notify();
    });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
      this.#notify();
    });
    this.#exited = new Promise<Result>((resolve, reject) => {
      this.#child.on('error', reject);
      this.#child.on('close', (code) => {
        this.#notify();
        resolve({ code, stdout: this.#stdout, stderr: this.#stderr });
      });
    });
  }

  /** The process id. */
  get pid(): number {
    const pid = this.#child.pid;
    if (pid === undefined) throw new Error('the process did not start');
    return pid;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Whether it has exited. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Its exit code and output, once it exits. */
  get exited(): Promise<Result> {
    return this.#exited;
  }

  /** Send a signal (no-op once it has exited). */
  kill(signal: NodeJS.Signals): void {
    if (this.running) this.#child.kill(signal);
  }

  /**
   * Wait until stderr matches `pattern`. Resolves false when the process exits first or
   * `withinMs` passes, so that the caller fails with its own message.
   */
  async waitForStderr(pattern: RegExp, withinMs: number): Promise<boolean> {
    if (pattern.test(this.#stderr)) return true;
    return new Promise<boolean>((resolve) => {
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(value);
      };
      const listener = (): void => {
        if (pattern.test(this.#stderr)) done(true);
        else if (!this.running) done(false);
      };
      const timer = setTimeout(() => done(false), withinMs);
      this.#listeners.add(listener);
    });
  }

  /**
   * Wait for the exit, at most `withinMs` (counted from now); past that, SIGKILL it and report
   * `timedOut`. A hung run then fails a test instead of stalling it.
   */
  async exitWithin(withinMs: number): Promise<BoundedResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.#exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), withinMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.kill('SIGKILL');
    const result = await this.#exited;
    return { ...result, timedOut, elapsedMs: Math.round(performance.now() - this.#started) };
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

/** Start `offloop <args>` as a process (the environment as {@link exec} gives it: no DATABASE_URL or libpq variable unless `env` has them). */
export const startOffloop = (args: readonly string[], options: ExecOptions = {}): RunningProcess =>
  new RunningProcess(process.execPath, [BIN, ...args], options);

/** The `{"error": ...}` document `--json` prints on failure, or null when stdout is something else. */
export function jsonError(stdout: string): {
  readonly code: string;
  readonly message: string;
  readonly details: Record<string, unknown>;
} | null {
  try {
    const parsed = JSON.parse(stdout) as {
      error?: { code: string; message: string; details?: Record<string, unknown> };
    };
    return parsed.error === undefined
      ? null
      : {
          code: parsed.error.code,
          message: parsed.error.message,
          details: parsed.error.details ?? {},
        };
  } catch {
    return null;
  }
}
