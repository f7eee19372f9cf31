/**
 * What a command is, and the one place that runs one: parse its flags, answer `--help`, run it,
 * and report a failure. A command is declared with {@link defineCommand} (or, for one that talks
 * to a database, `defineDatabaseCommand`), which types its flag values from its flag specs; a
 * group of commands under one name (`offloop fleet up`) with {@link defineGroup}.
 */
import { EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
import { COMMON_FLAGS, HELP_FLAGS } from './flags/common.ts';
import { parseCommandLine } from './flags/parse.ts';
import type { FlagSpecs, ParsedArgs } from './flags/spec.ts';
import { UsageError } from './flags/usage-error.ts';
import { commandHelp } from './help.ts';
import type { Io } from './io.ts';
import { createOutput, type Output } from './output/output.ts';

/** What a command's `run` gets besides its arguments. */
export type CommandContext = {
  readonly io: Io;
  readonly output: Output;
};

/** What a command says about itself, for `--help` and `docs/cli.md`. */
export type CommandInfo = {
  /** As typed after `offloop`: `up`, or `fleet up` for a command of a group. */
  readonly name: string;
  /** One line, for `offloop --help`. */
  readonly summary: string;
  /** `offloop create <name> [options]`. */
  readonly usage: string;
  /** A paragraph for `offloop <name> --help`. */
  readonly description: string;
  readonly examples: readonly string[];
};

/** One `offloop <name>` command. */
export type Command = CommandInfo & {
  /** Every flag it takes, in the order help lists them: its own, then `--config`, `--json`, `--help`. */
  readonly flags: FlagSpecs;
  /**
   * Run it with the arguments after its name and resolve to the exit code. Never throws: a
   * failure is reported on the output and turned into its exit code.
   */
  run(argv: readonly string[], io: Io): Promise<number>;
  /** The commands of a group (`offloop fleet <command>`), in the order its help lists them. */
  readonly subcommands?: readonly Command[];
};

/** The flags a command declares, with the ones every command takes after them. */
export type WithCommonFlags<S extends FlagSpecs> = S & typeof COMMON_FLAGS;

/** A command as declared: what it says about itself, its own flags, and what it does. */
type CommandDefinition<S extends FlagSpecs> = CommandInfo & {
  /** The command's own flags; `--config`, `--json` and `--help` are added after them. */
  readonly flags: S;
  /** Run it; resolve to the exit code, or throw an offloop error (or a usage error). */
  run(args: ParsedArgs<WithCommonFlags<S>>, context: CommandContext): Promise<number>;
};

/** A {@link Command} from its definition, its flag values typed from its flag specs. */
export function defineCommand<const S extends FlagSpecs>(
  definition: CommandDefinition<S>,
): Command {
  const flags: WithCommonFlags<S> = { ...definition.flags, ...COMMON_FLAGS };
  const command: Command = {
    name: definition.name,
    summary: definition.summary,
    usage: definition.usage,
    description: definition.description,
    examples: definition.examples,
    flags,
    async run(argv, io) {
      const args = parseCommandLine(argv, flags);
      if (args.values.help === true) {
        io.stdout.write(commandHelp(command));
        return EXIT_OK;
      }
      const output = createOutput(io, args.values.json === true);
      try {
        return await definition.run(args, { io, output });
      } catch (error) {
        return output.fail(error);
      }
    },
  };
  return command;
}

/** A group as declared: what it says about itself, and its commands. */
type GroupDefinition = Omit<CommandInfo, 'examples'> & {
  /** Its commands, each named `<group> <command>`. */
  readonly subcommands: readonly Command[];
  readonly examples?: readonly string[];
};

/**
 * A {@link Command} that is a group of commands: `offloop fleet up ...` runs the group's `up`
 * with the arguments after it; `offloop fleet`, `offloop fleet --help` show the group's help.
 */
export function defineGroup(definition: GroupDefinition): Command {
  const { subcommands } = definition;
  const find = (name: string | undefined): Command | undefined =>
    subcommands.find((command) => command.name === `${definition.name} ${name ?? ''}`);
  const group: Command = {
    name: definition.name,
    summary: definition.summary,
    usage: definition.usage,
    description: definition.description,
    examples: definition.examples ?? [],
    flags: HELP_FLAGS,
    subcommands,
    async run(argv, io) {
      const [first, ...rest] = argv;
      if (first === undefined || first === '-h' || first === '--help') {
        (first === undefined ? io.stderr : io.stdout).write(commandHelp(group));
        return first === undefined ? EXIT_USAGE : EXIT_OK;
      }
      const command = find(first);
      if (command !== undefined) return command.run(rest, io);
      const names = subcommands.map((each) => each.name.slice(definition.name.length + 1));
      const problem = `unknown command; expected one of ${names.join(', ')}`;
      const error = new UsageError(
        `Invalid command line: ${definition.name} ${first}: ${problem}`,
        [{ path: first, message: problem }],
        definition.name,
      );
      return createOutput(io, argv.includes('--json')).fail(error);
    },
  };
  return group;
}
