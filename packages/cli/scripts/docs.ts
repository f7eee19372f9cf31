/**
 * Copy the current `--help` texts and the exit code table into docs/cli.md, between its
 * `<!-- help:NAME -->` and `<!-- exit-codes -->` markers, and `offloop --help` into README.md's
 * `<!-- help:global -->` block. `test/cli/end-to-end.test.ts` fails when they drift apart; run
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
