/**
 * The one shape of a command that talks to a database: check its arguments, read its flags into
 * the call's options, load the configuration (every problem of every source reported at once),
 * get a migrator (an embedded PostgreSQL when nothing names a database), make one call, and print
 * its result. A command declares the parts that are its own; everything around them is here.
 *
 * @example
 * ```ts
 * export const currentCommand = defineDatabaseCommand({
 *   name: 'current', summary, usage, description, examples,
 *   flags: { ...DATABASE_FLAGS },
 *   read: () => ({}),
 *   call: (migrator, _options, { signal }) => migrator.current({ signal }),
 *   render: (result) => [result.current ?? 'base (nothing applied)'],
 * });
 * ```
 */
import type {
  ConfigIssue,
  OperationInput,
  ProgressEvent,
  ResolvedConfig,
  SqlResult,
} from '@offloop/core';
import type { Migrator } from '@offloop/worker';
import {
  defineCommand,
  type Command,
  type CommandContext,
  type CommandInfo,
  type WithCommonFlags,
} from './command.ts';
import { EXIT_OK } from './exit-codes.ts';
import type { DATABASE_FLAGS } from './flags/database-options.ts';
import type { FlagSpecs, FlagValues, ParsedArgs } from './flags/spec.ts';
import { unexpectedArguments, usageError } from './flags/usage-error.ts';
import { displayPath } from './format.ts';
import { loadConfig } from './load-config.ts';
import { withMigrator, type CommandDatabase } from './with-migrator.ts';

/** What a call gets from the command line's run: its cancel signal and a progress listener. */
export type CommandControl = {
  /** Fired on Ctrl-C or SIGTERM. */
  readonly signal: AbortSignal | undefined;
  /** Prints progress on stderr (nothing with `--json`). */
  readonly onProgress: (event: ProgressEvent) => void;
  /** The call runs with no database (none named, or asked for): it must not connect. */
  readonly offline: boolean;
};

/** Where a result was found, for its human rendering. */
export type RenderContext = {
  readonly database: CommandDatabase;
  /** The migrator's configuration, defaults filled in. */
  readonly config: ResolvedConfig;
  /** The migrations directory as the user would type it. */
  readonly dir: string;
  /** `schema.table` of the version table. */
  readonly versionTable: string;
  /** The working directory, for paths as the user would type them. */
  readonly cwd: string;
};

/** One migrator call and how its result reads. */
export type DatabaseCall<R> = {
  /** The call needs no database: none is read, none is started. @default false */
  readonly offline?: boolean;
  /**
   * When nothing names a database, run the call offline instead of starting an embedded
   * PostgreSQL (`lint`). @default false
   */
  readonly offlineWithoutDatabase?: boolean;
  /** The exit code of a call that succeeded. @default 0 */
  exitCode?(result: R): number;
  call(migrator: Migrator, control: CommandControl): Promise<R>;
  render(result: R, context: RenderContext): readonly string[];
};

/**
 * What `up --sql` and `down --sql` print the script of: the options of an `sql()` call. With
 * `from`, no database is needed at all.
 */
export type ScriptRequest = OperationInput<'sql'>;

/** A database command as declared; `O` is what it reads from its flags, `R` what its call returns. */
type DatabaseCommandDefinition<S extends FlagSpecs, O, R> = CommandInfo & {
  /** Its flags, `DATABASE_FLAGS` among them; `--config`, `--json` and `--help` are added after. */
  readonly flags: S;
  /**
   * The problems with its positional arguments: any makes a usage error, thrown at once.
   * @default none taken: each one is a problem
   */
  readonly positionals?: (
    positionals: readonly string[],
    values: FlagValues<WithCommonFlags<S>>,
  ) => ConfigIssue[];
  /**
   * The call's options from the flag values (and positionals); a problem is pushed on `issues`
   * and reported with every other problem of the configuration.
   */
  readonly read: (
    values: FlagValues<WithCommonFlags<S>>,
    issues: ConfigIssue[],
    positionals: readonly string[],
  ) => O;
  /**
   * For a command with `--sql`: the script to print instead of making the call, when asked for.
   * Only the script is printed on stdout (with `--json`, the result with its steps); with
   * `--from`, no database is read or started.
   */
  readonly script?: (options: O) => ScriptRequest | undefined;
  /** The migrator call. */
  readonly call: (migrator: Migrator, options: O, control: CommandControl) => Promise<R>;
  /** The result as human lines on stdout (with `--json`, the result itself is printed). */
  readonly render: (
    result: R,
    context: RenderContext & { readonly options: O },
  ) => readonly string[];
  /**
   * Whether the call needs no database for these options; with `'without-database'`, only when
   * nothing names one (then no embedded PostgreSQL is started). @default false
   */
  readonly offline?: (options: O) => boolean | 'without-database';
  /** The exit code of a call that succeeded, from its result. @default 0 */
  readonly exitCode?: (result: R) => number;
};

/** A {@link Command} that talks to a database, from its definition. */
export function defineDatabaseCommand<const S extends FlagSpecs & typeof DATABASE_FLAGS, O, R>(
  definition: DatabaseCommandDefinition<S, O, R>,
): Command {
  const { read, script, call, render, positionals, offline, exitCode, ...info } = definition;
  return defineCommand({
    ...info,
    async run(args, context) {
      const usage =
        positionals?.(args.positionals, args.values) ??
        unexpectedArguments(definition.name, args.positionals);
      if (usage.length > 0) throw usageError(definition.name, usage, args);
      const issues: ConfigIssue[] = [];
      const options = read(args.values, issues, args.positionals);
      const request = script?.(options);
      if (request !== undefined) return runCall(args, context, issues, sqlScriptCall(request));
      const offlineWhen = offline?.(options) ?? false;
      return runCall(args, context, issues, {
        offline: offlineWhen === true,
        offlineWithoutDatabase: offlineWhen === 'without-database',
        call: (migrator, control) => call(migrator, options, control),
        render: (result, where) => render(result, { ...where, options }),
        ...(exitCode === undefined ? {} : { exitCode }),
      });
    },
  });
}

/**
 * Load the configuration (reporting `issues` with its own problems), make `call` on a migrator,
 * and print its result.
 */
async function runCall<R>(
  args: ParsedArgs,
  { io, output }: CommandContext,
  issues: readonly ConfigIssue[],
  call: DatabaseCall<R>,
): Promise<number> {
  // Offline, DATABASE_URL is not this command's business: not read, not required.
  const config = await loadConfig(args, io, { database: call.offline !== true, issues });
  const offline =
    call.offline === true || (call.offlineWithoutDatabase === true && config.url === null);
  output.addSecrets(config.secrets);
  output.setMigrationsDir(config.dir);
  return withMigrator(
    config,
    io,
    output,
    async (migrator, database) => {
      const result = await call.call(migrator, {
        signal: io.signal,
        onProgress: (event) => output.progress(event),
        offline,
      });
      output.result(result, () =>
        call.render(result, {
          database,
          config: migrator.config,
          dir: displayPath(config.dir, io.cwd),
          cwd: io.cwd,
          versionTable: config.versionTable,
        }),
      );
      return call.exitCode?.(result) ?? EXIT_OK;
    },
    { offline },
  );
}

/** The `sql()` call that prints the script for `request`. */
function sqlScriptCall(request: ScriptRequest): DatabaseCall<SqlResult> {
  return {
    offline: request.from !== undefined,
    call: (migrator, { signal }) => migrator.sql({ ...request, signal }),
    render: (result) => [result.script.replace(/\n$/, '')],
  };
}
