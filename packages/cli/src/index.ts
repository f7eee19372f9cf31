/**
 * The offloop command line, as a function: `run(argv, io)` resolves to the exit code and never
 * touches `process`, so that it can be tested and embedded. `main.ts` wires it to the process.
 *
 * @example
 * ```ts
 * import { run } from 'offloop';
 * const code = await run(['status', '--json'], { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
 * ```
 */
// First: core's entry refuses a Node.js older than offloop needs, before any other module runs.
import '@offloop/core';
import { readFileSync } from 'node:fs';
import type { Command } from './command.ts';
import { checkCommand } from './commands/check.ts';
import { createCommand } from './commands/create.ts';
import { currentCommand } from './commands/current.ts';
import { downCommand } from './commands/down.ts';
import { fleetCommand } from './commands/fleet.ts';
import { historyCommand } from './commands/history.ts';
import { lintCommand } from './commands/lint.ts';
import { planCommand } from './commands/plan.ts';
import { redoCommand } from './commands/redo.ts';
import { repairCommand } from './commands/repair.ts';
import { stampCommand } from './commands/stamp.ts';
import { statusCommand } from './commands/status.ts';
import { upCommand } from './commands/up.ts';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
import { UsageError } from './flags/usage-error.ts';
import { commandHelp, globalHelp } from './help.ts';
import type { Io } from './io.ts';
import { createOutput } from './output/output.ts';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  upCommand,
  downCommand,
  redoCommand,
  statusCommand,
  checkCommand,
  lintCommand,
  planCommand,
  historyCommand,
  currentCommand,
  stampCommand,
  repairCommand,
  createCommand,
  fleetCommand,
];

/** The version of this package, from its `package.json` (next to `src/` and `dist/` alike). */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Run one command line (without the `node` and script arguments) and resolve to its exit code.
 * Never throws: failures are printed (human text on stderr, or with `--json` one JSON document
 * on stdout) and turned into exit codes by the table in `exit-codes.ts`.
 */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(globalHelp(COMMANDS));
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(globalHelp(COMMANDS));
    return EXIT_OK;
  }
  if (first === '-v' || first === '-V' || first === '--version') {
    // `--json` keeps its promise here too: one JSON document on stdout.
    io.stdout.write(
      rest.includes('--json')
        ? `${JSON.stringify({ version: cliVersion() })}\n`
        : `${cliVersion()}\n`,
    );
    return EXIT_OK;
  }
  if (first === 'help' && rest.length <= 1) {
    const target =
      rest[0] === undefined ? undefined : COMMANDS.find((command) => command.name === rest[0]);
    if (rest[0] === undefined || target !== undefined) {
      io.stdout.write(target === undefined ? globalHelp(COMMANDS) : commandHelp(target));
      return EXIT_OK;
    }
  }
  // `offloop help fleet up`: the help of a group's command.
  if (first === 'help' && rest.length === 2) {
    const group = COMMANDS.find((command) => command.name === rest[0]);
    if (group?.subcommands !== undefined) return group.run([rest[1] ?? '', '--help'], io);
  }

  const command = COMMANDS.find((candidate) => candidate.name === first);
  if (command === undefined) {
    const names = COMMANDS.map((candidate) => candidate.name).join(', ');
    const problem = first.startsWith('-')
      ? `expected a command before any flag: one of ${names}`
      : `unknown command; expected one of ${names}`;
    const error = new UsageError(
      `Invalid command line: ${first}: ${problem}`,
      [{ path: first === 'help' ? (rest[0] ?? first) : first, message: problem }],
      null,
    );
    return createOutput(io, argv.includes('--json')).fail(error);
  }

  return command.run(rest, io);
}

export type { Command, CommandContext } from './command.ts';
export type { Io, TextSink } from './io.ts';
/** The type of a TypeScript migration's `ctx`, so that a project with only `offloop` installed can type its migrations. */
export type { MigrationContext } from '@offloop/core';
export { EXIT_CODES, EXIT_CODE_MEANINGS, EXIT_OK, EXIT_USAGE } from './exit-codes.ts';
