/** `--help` text, generated from the commands' flag definitions; `docs/cli.md` quotes it. */
import { CONFIG_FILE_NAME } from './config-file.ts';
import { EXIT_CODE_MEANINGS } from './exit-codes.ts';
import type { FlagSpecs } from './flags/spec.ts';
import { NBSP } from './format.ts';
import { EMBEDDED_DATA_DIR } from './with-migrator.ts';

const WIDTH = 100;

/** What help shows of a command (a `Command` is one). */
type HelpSubject = {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly description: string;
  readonly flags: FlagSpecs;
  readonly examples: readonly string[];
  /** A group's commands (`offloop fleet <command>`). */
  readonly subcommands?: readonly HelpSubject[];
};

/** `offloop --help`. */
export function globalHelp(commands: readonly HelpSubject[]): string {
  const rows = commands.map(
    (command) =>
      [
        `${command.usage.replace(/^offloop /, '').replace(/ \[options\]$/, '')}`,
        command.summary,
      ] as const,
  );
  const exitCodes = Object.entries(EXIT_CODE_MEANINGS).map(
    ([code, meaning]) => [code, meaning] as const,
  );
  return [
    "offloop: PostgreSQL migrations that run in a worker thread, off the caller's event loop.",
    '',
    'Usage: offloop <command> [options]',
    '',
    'Commands:',
    ...columns(rows),
    '',
    'Options:',
    ...columns([
      ['-h, --help', "Show help; offloop <command> --help shows the command's options"],
      ['-v, --version', 'Show the version'],
    ]),
    '',
    ...wrap(
      `Configuration: flags, then DATABASE_URL, then ./${CONFIG_FILE_NAME} ` +
        '(or --config <path>), then defaults. Without a URL, the PG* environment (PGHOST, ' +
        'PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ~/.pgpass, PGSSLMODE) names the database, as ' +
        'for psql; when nothing names one, an embedded PostgreSQL is started for the command ' +
        `(data in ${EMBEDDED_DATA_DIR}).`,
      '',
    ),
    '',
    'Exit codes:',
    ...columns(exitCodes),
    '',
  ].join('\n');
}

/** `offloop <group> --help`: its commands, and where their options are. */
function groupHelp(group: HelpSubject, commands: readonly HelpSubject[]): string {
  const rows = commands.map(
    (command) =>
      [
        command.usage.replace(/^offloop /, '').replace(/ \[options\]$/, ''),
        command.summary,
      ] as const,
  );
  return [
    `Usage: ${group.usage}`,
    '',
    ...wrap(group.description, ''),
    '',
    'Commands:',
    ...columns(rows),
    '',
    'Options:',
    ...columns(flagRows(group.flags)),
    '',
    ...wrap(`Run offloop ${group.name} <command> --help for the options of each command.`, ''),
    ...(group.examples.length === 0
      ? []
      : ['', 'Examples:', ...group.examples.map((example) => `  ${example}`)]),
    '',
  ].join('\n');
}

/** `offloop <command> --help` (of a group: its commands). */
export function commandHelp(command: HelpSubject): string {
  if (command.subcommands !== undefined) return groupHelp(command, command.subcommands);
  return [
    `Usage: ${command.usage}`,
    '',
    ...wrap(command.description, ''),
    '',
    'Options:',
    ...columns(flagRows(command.flags)),
    '',
    'Examples:',
    ...command.examples.map((example) => `  ${example}`),
    '',
  ].join('\n');
}

function flagRows(flags: FlagSpecs): (readonly [string, string])[] {
  return Object.entries(flags).map(([name, spec]) => {
    const short = spec.short === undefined ? '' : `-${spec.short}, `;
    const value = spec.type === 'string' ? ` <${spec.placeholder ?? 'value'}>` : '';
    const fallback = spec.default === undefined ? '' : ` (default: ${spec.default})`;
    return [`${short}--${name}${value}`, `${spec.description}${fallback}`] as const;
  });
}

/** Two columns, the second wrapped to the width with a hanging indent. */
function columns(rows: readonly (readonly [string, string])[]): string[] {
  const left = Math.max(...rows.map(([name]) => name.length)) + 2;
  return rows.flatMap(([name, text]) => {
    const [first = '', ...rest] = wrapWords(text, WIDTH - left - 2);
    return [
      `  ${name.padEnd(left)}${first}`,
      ...rest.map((line) => `  ${' '.repeat(left)}${line}`),
    ];
  });
}

function wrap(text: string, prefix: string): string[] {
  return wrapWords(text, WIDTH - prefix.length).map((line) => `${prefix}${line}`);
}

function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  // Only plain spaces break lines: a no-break space keeps "-- migrate:up" together.
  for (const word of text.split(/[ \n]+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.map((entry) => entry.replaceAll(NBSP, ' '));
}
