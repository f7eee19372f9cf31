/** The streams, environment, working directory and cancel signal a command runs with. */

/** Something text can be written to: `process.stdout`, or a buffer in tests. */
export type TextSink = {
  write(chunk: string): unknown;
  /** A terminal (`process.stderr.isTTY`): a line can be redrawn in place there. */
  readonly isTTY?: boolean;
  /** The terminal's width, when it is one. */
  readonly columns?: number;
};

/**
 * The process around a command, passed in so that `run` can be tested without spawning:
 * nothing in the CLI reads `process` directly except `main.ts` (and `bin.ts`, for the Node.js
 * version).
 */
export type Io = {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Environment variables; the CLI reads `DATABASE_URL`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Working directory: relative paths, `offloop.config.json` and `.offloop/` are found from here. */
  readonly cwd: string;
  /** Cancels a running command (`main.ts` fires it on Ctrl-C); the command then fails with `RUN_ABORTED`. */
  readonly signal?: AbortSignal | undefined;
};
