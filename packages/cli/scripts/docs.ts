/**
 * Copy the current `--help` texts, the configuration table and the exit code table into
 * docs/cli.md, between its `<!-- help:NAME -->`, `<!-- config-options -->` and
 * `<!-- exit-codes -->` markers, and `offloop --help` into README.md's `<!-- help:global -->` block. `test/cli/end-to-end.test.ts` fails when they drift apart; run
 * `pnpm --filter offloop run docs` after changing a command.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  EXIT_CODE_MEANINGS,
  EXIT_CODES,
  EXIT_NODE_VERSION_UNSUPPORTED,
  EXIT_USAGE,
} from '../src/exit-codes.ts';
import { configSchema, optionMeta } from '@offloop/core';
import { DATABASE_FLAGS } from '../src/flags/database-options.ts';
import { commandHelp, globalHelp } from '../src/help.ts';
import { COMMANDS } from '../src/index.ts';

const path = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url));
const readmePath = fileURLToPath(new URL('../../../README.md', import.meta.url));
let text = await readFile(path, 'utf8');

function replaceIn(source: string, name: string, marker: string, body: string): string {
  const pattern = new RegExp(`(<!-- ${marker} -->\\n)[\\s\\S]*?(<!-- /${marker} -->)`);
  if (!pattern.test(source)) throw new Error(`${name} has no <!-- ${marker} --> block`);
  return source.replace(pattern, (_match, open: string, close: string) => `${open}${body}${close}`);
}

function replaceBlock(marker: string, body: string): void {
  text = replaceIn(text, 'docs/cli.md', marker, body);
}

const fence = (help: string): string => `\`\`\`text\n${help}\`\`\`\n`;
replaceBlock('help:global', fence(globalHelp(COMMANDS)));
for (const command of COMMANDS.flatMap((each) => [each, ...(each.subcommands ?? [])]))
  replaceBlock(`help:${command.name}`, fence(commandHelp(command)));

/**
 * The default column of the options whose default is not a value of their schema (a fallback,
 * words): a new option like them must be given its cell here.
 */
const DEFAULT_WORDS: Readonly<Record<string, string>> = {
  url: '`DATABASE_URL`, `PG*`, else embedded',
  migrationsSchema: 'the `schema`',
  lockUrl: 'the `url` connection',
  appliedBy: '`<os user>@<host>`',
  workerResourceLimits: "none (Node's defaults)",
  lint: "each rule's own level, not strict ([lint.md](lint.md))",
  postgresVersion: "the connected server's, else the newest",
};

/** What the table says after the schema's default of these options. */
const DEFAULT_NOTES: Readonly<Record<string, string>> = {
  statementLockTimeout: ', retried ([locking](locking.md)); `0`: none',
  workerIdleTimeout: ' (0 ends the thread after each call)',
  workerNice: ' (Linux; 0 leaves the priority)',
};

/** The default column of option `key`: its schema's default as `--help` shows it (`shown`). */
function defaultCell(key: string, shown: string | undefined): string {
  const field = (configSchema.shape as Record<string, Parameters<typeof optionMeta.get>[0]>)[key];
  const words = field === undefined || optionMeta.get(field)?.default !== undefined;
  if (shown === undefined || words) {
    const cell = DEFAULT_WORDS[key];
    if (cell === undefined) throw new Error(`${key}: give its default column in DEFAULT_WORDS`);
    return cell;
  }
  // `0, none` (a duration's 0) becomes `0` (none).
  const [value = shown, ...rest] = shown.split(', ');
  return `\`${value}\`${rest.map((each) => ` (${each})`).join('')}${DEFAULT_NOTES[key] ?? ''}`;
}

const configRows = Object.entries(DATABASE_FLAGS).map(([flag, spec]) => [
  `\`--${flag}${spec.placeholder === undefined ? '' : ` <${spec.placeholder}>`}\``,
  `\`${spec.option}\``,
  defaultCell(spec.option, spec.default),
]);
const configTable = [['Flag', 'Config file key', 'Default'], ...configRows];
const widths = [0, 1, 2].map((column) =>
  Math.max(...configTable.map((row) => (row[column] ?? '').length)),
);
const tableLine = (cells: readonly string[]) =>
  `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
replaceBlock(
  'config-options',
  [
    tableLine(configTable[0] ?? []),
    tableLine(widths.map((width) => '-'.repeat(width))),
    ...configRows.map(tableLine),
    '',
  ].join('\n'),
);

const meanings = Object.entries(EXIT_CODE_MEANINGS).map(
  ([code, meaning]) => `| ${code.padEnd(4)} | ${meaning} |`,
);
const byCode = [
  ['USAGE', EXIT_USAGE] as const,
  ['NODE_VERSION_UNSUPPORTED', EXIT_NODE_VERSION_UNSUPPORTED] as const,
  ...Object.entries(EXIT_CODES),
].map(([code, exit]) => `| \`${code}\` | ${exit} |`);
replaceBlock(
  'exit-codes',
  [
    '| Exit | Meaning |',
    '| ---- | ------- |',
    ...meanings,
    '',
    "By error code (`USAGE` is the CLI's own, for a command line it could not understand;",
    '`NODE_VERSION_UNSUPPORTED` comes before offloop loads, on a Node.js older than 24):',
    '',
    '| Error code | Exit |',
    '| ---------- | ---- |',
    ...byCode,
    '',
  ].join('\n'),
);
await writeFile(path, text);
console.log(`updated ${path}`);
const readme = await readFile(readmePath, 'utf8');
await writeFile(
  readmePath,
  replaceIn(readme, 'README.md', 'help:global', fence(globalHelp(COMMANDS))),
);
console.log(`updated ${readmePath}`);
