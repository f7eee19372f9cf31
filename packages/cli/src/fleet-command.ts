/**
 * The one shape of an `offloop fleet ...` command, as `database-command.ts` is for the commands of
 * one database: read the fleet's flags and the `--targets` file, load the configuration (every
 * problem of every source reported at once), create a fleet (on an embedded PostgreSQL when its
 * targets are looked up in a database that nothing names), make one call, and print its result.
 *
 * A call that fails with its result (`FLEET_FAILED` holds every target's, `FLEET_BEHIND` the
 * status) prints that result as a successful call does, then the error: with `--json`, one
 * document, the result with `ok: false`, `code` and `error`.
 */
import {
  FleetEmptyError,
  parseFleetConfig,
  redactUrl,
  type ConfigIssue,
  type FleetTarget,
  type OffloopError,
} from '@offloop/core';
import type { Fleet } from '@offloop/worker';
import { defineCommand, type Command, type CommandInfo, type WithCommonFlags } from './command.ts';
import { EXIT_OK, exitCodeFor } from './exit-codes.ts';
import type { DATABASE_FLAGS } from './flags/database-options.ts';
import {
  fleetOptionsFromFlags,
  flagConfigError,
  readTargetsFile,
  type FLEET_READ_FLAGS,
} from './flags/fleet-options.ts';
import type { FlagSpecs, FlagValues } from './flags/spec.ts';
import { unexpectedArguments, usageError } from './flags/usage-error.ts';
import { displayPath } from './format.ts';
import { loadConfig } from './load-config.ts';
import type { Output } from './output/output.ts';
import { openDatabase, withCleanup } from './with-migrator.ts';

/** What a fleet call gets from the command line's run. */
export type FleetControl = {
  /** Fired on Ctrl-C or SIGTERM: the fleet stops dispatching and cancels what runs. */
  readonly signal: AbortSignal | undefined;
  /** Where progress goes (nothing with `--json`). */
  readonly output: Output;
};

/** Where a fleet's result was found, for its human rendering. */
export type FleetRenderContext = {
  /** The migrations directory as the user would type it. */
  readonly dir: string;
  /**
   * Where the targets were looked for, for a fleet that found none: `no schema of
   * postgres://app@db/app matches --schemas 'tenat_*'` (a typo, or the wrong database).
   */
  readonly searched: string;
};

/** A fleet command as declared; `R` is what its call returns. */
type FleetCommandDefinition<S extends FlagSpecs, R> = CommandInfo & {
  /** Its flags, `DATABASE_FLAGS` and `--targets` among them; `--config`, `--json`, `--help` follow. */
  readonly flags: S;
  /** Problems with the command's own flags (those no fleet option backs), reported with the rest. */
  readonly check?: (values: FlagValues<WithCommonFlags<S>>) => ConfigIssue[];
  /** The fleet call. */
  readonly call: (
    fleet: Fleet,
    values: FlagValues<WithCommonFlags<S>>,
    control: FleetControl,
  ) => Promise<R>;
  /** The result a failure of the call carries (`FLEET_FAILED`'s details), printed as a result. */
  readonly resultOf?: (error: unknown) => (OffloopError & { readonly details: R }) | undefined;
  /** The result as human lines on stdout (with `--json`, the result itself is printed). */
  readonly render: (result: R, context: FleetRenderContext) => readonly string[];
  /**
   * How many targets the result has, for a command that fails with `FLEET_EMPTY` when it found
   * none and `--allow-empty` was not given (`fleet up`, `fleet check`: a gate must not pass on a
   * mistyped glob). Absent: finding none is a result like any other (`fleet status`).
   */
  readonly targetCount?: (result: R) => number;
};

/**
 * Stands in for the URL of an embedded PostgreSQL not started yet, while the options are
 * checked: nothing connects to it. `.invalid` never resolves (RFC 2606).
 */
const NOT_STARTED_URL = 'postgres://embedded.invalid/postgres';

/** A {@link Command} of the `fleet` group, from its definition. */
export function defineFleetCommand<
  const S extends FlagSpecs & typeof DATABASE_FLAGS & typeof FLEET_READ_FLAGS,
  R extends object,
>(definition: FleetCommandDefinition<S, R>): Command {
  const { check, call, resultOf, render, targetCount, ...info } = definition;
  return defineCommand({
    ...info,
    async run(args, { io, output }) {
      const usage = unexpectedArguments(definition.name, args.positionals);
      if (usage.length > 0) throw usageError(definition.name, usage, args);
      const values: Readonly<Record<string, string | boolean | undefined>> = args.values;
      const issues: ConfigIssue[] = [...(check?.(args.values) ?? [])];
      const fleetOptions = fleetOptionsFromFlags(values, issues);
      const targets = await readTargetsFile(args.values.targets, io.cwd, issues);
      if (
        targets === undefined &&
        fleetOptions.schemas === undefined &&
        fleetOptions.targetsQuery === undefined
      )
        issues.push({
          path: '--schemas',
          message:
            'a fleet needs targets: --schemas <glob>, --targets <file> or --targets-query <sql>',
        });
      const config = await loadConfig(args, io, { database: true, issues });
      output.addSecrets([...config.secrets, ...urlsOf(targets, fleetOptions.controlUrl)]);
      output.setMigrationsDir(config.dir);
      // A glob, or a query without a control database of its own, looks in the fleet's database:
      // when nothing names one, an embedded PostgreSQL, as for every other command.
      const needsDatabase =
        config.url === null &&
        (fleetOptions.schemas !== undefined ||
          (fleetOptions.targetsQuery !== undefined && fleetOptions.controlUrl === undefined));
      const options = {
        ...config.options,
        ...fleetOptions,
        ...(targets === undefined ? {} : { targets }),
      };
      const withUrl = (url: string | null) => (url === null ? options : { ...options, url });
      try {
        // Checked before an embedded PostgreSQL is started for nothing.
        parseFleetConfig(withUrl(needsDatabase ? NOT_STARTED_URL : config.url));
      } catch (error) {
        throw flagConfigError(error);
      }
      const { createFleet } = await import('@offloop/worker');
      return withCleanup(output, async (stack) => {
        const url = needsDatabase
          ? (await openDatabase(config, io, output, stack)).url
          : config.url;
        const fleet = stack.use(createFleet(withUrl(url)));
        let result: R;
        let failure: OffloopError | undefined;
        try {
          result = await call(fleet, args.values, { signal: io.signal, output });
        } catch (error) {
          const failed = resultOf?.(error);
          if (failed === undefined) throw error;
          failure = failed;
          result = failed.details;
        }
        const context = {
          dir: displayPath(config.dir, io.cwd),
          searched: searched(fleetOptions, url),
        };
        if (failure === undefined && targetCount?.(result) === 0 && values['allow-empty'] !== true)
          failure = new FleetEmptyError(
            `The fleet has no targets${context.searched === '' ? '' : `: ${context.searched}`}. ` +
              'Check the selection (a typo in the glob, the wrong database); pass --allow-empty ' +
              'when a fleet without targets is expected.',
            { searched: context.searched },
          );
        return report(output, result, failure, () => render(result, context));
      });
    },
  });
}

/** Print a fleet call's result (and its failure, if it failed with one); the exit code. */
function report<R extends object>(
  output: Output,
  result: R,
  failure: OffloopError | undefined,
  human: () => readonly string[],
): number {
  if (output.json) {
    const failed =
      failure === undefined
        ? { ok: true }
        : {
            ok: false,
            code: failure.code,
            error: { code: failure.code, message: failure.message },
          };
    output.result({ ...failed, ...result }, human);
    return failure === undefined ? EXIT_OK : exitCodeFor(failure.code);
  }
  output.result(result, human);
  return failure === undefined ? EXIT_OK : output.fail(failure);
}

/** Where a fleet's targets were looked for, in words, for the fleet that found none. */
function searched(
  options: {
    readonly schemas?: unknown;
    readonly targetsQuery?: unknown;
    readonly controlUrl?: unknown;
  },
  url: string | null,
): string {
  const where: string[] = [];
  if (typeof options.schemas === 'string')
    where.push(
      `no schema of ${url === null ? 'the database' : redactUrl(url)} matches --schemas '${options.schemas}'`,
    );
  if (typeof options.targetsQuery === 'string') where.push('--targets-query returned no rows');
  return where.join('; ');
}

/** The URLs the fleet's own options and targets file name, for the output to redact. */
function urlsOf(targets: readonly FleetTarget[] | undefined, controlUrl: unknown): string[] {
  const urls = (targets ?? []).map((target) => target.url);
  return typeof controlUrl === 'string' ? [...urls, controlUrl] : urls;
}
