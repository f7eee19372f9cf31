/** What a command is, and what it runs with. */
import type { FlagSpecs, ParsedArgs } from './args.ts';
import type { Output } from './output.ts';

/** Something text can be written to: `process.stdout`, or a buffer in tests. */
export type TextSink = { write(chunk: string): unknown };

/**
 * The process around a command, passed in so that {@link run} can be tested without spawning:
 * nothing in the CLI reads `process` directly except `bin.ts`.
 */
export type Io = {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Environment variables; the CLI reads `DATABASE_URL`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Working directory: relative paths, `offloop.config.json` and `.offloop/` are found from here. */
  readonly cwd: string;
  /** Cancels a running command (`bin.ts` fires it on Ctrl-C); the command then fails with `RUN_ABORTED`. */
  readonly signal?: AbortSignal | undefined;
};

/** What a command's `run` gets besides its arguments. */
export type CommandContext = {
  readonly io: Io;
  readonly output: Output;
};

/** One `offloop <name>` command. */
export type Command = {
  readonly name: string;
  /** One line, for `offloop --help`. */
  readonly summary: string;
  /** `offloop create <name> [options]`. */
  readonly usage: string;
  /** A paragraph for `offloop <name> --help`. */
  readonly description: string;
  readonly flags: FlagSpecs;
  readonly examples: readonly string[];
  /** Run the command; resolve to the exit code, or throw an offloop error (or a usage error). */
  run(args: ParsedArgs, context: CommandContext): Promise<number>;
};
