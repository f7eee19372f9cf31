/**
 * Copy the current `--help` texts and the exit code table into docs/cli.md, between its
 * `<!-- help:NAME -->` and `<!-- exit-codes -->` markers. `test/cli.test.ts` fails when the two
 * drift apart; run `pnpm --filter offloop run docs` after changing a command.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EXIT_CODE_MEANINGS, EXIT_CODES, EXIT_USAGE } from '../src/exit-codes.ts';
import { commandHelp, globalHelp } from '../src/help.ts';
import { COMMANDS } from '../src/index.ts';

const path = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url));
let text = await readFile(path, 'utf8');

function replaceBlock(marker: string, body: string): void {
  const pattern = new RegExp(`(<!-- ${marker} -->\\n)[\\s\\S]*?(<!-- /${marker} -->)`);
  if (!pattern.test(text)) throw new Error(`docs/cli.md has no <!-- ${marker} --> block`);
  text = text.replace(pattern, (_match, open: string, close: string) => `${open}${body}${close}`);
}

const fence = (help: string): string => `\`\`\`text\n${help}\`\`\`\n`;
replaceBlock('help:global', fence(globalHelp(COMMANDS)));
for (const command of COMMANDS) replaceBlock(`help:${command.name}`, fence(commandHelp(command)));

const meanings = Object.entries(EXIT_CODE_MEANINGS).map(([code, meaning]) => `| ${code.padEnd(4)} | ${meaning} |`);
const byCode = [['USAGE', EXIT_USAGE] as const, ...Object.entries(EXIT_CODES)].map(([code, exit]) => `| \`${code}\` | ${exit} |`);
replaceBlock(
  'exit-codes',
  [
    '| Exit | Meaning |',
    '| ---- | ------- |',
    ...meanings,
    '',
    'By error code (`USAGE` is the CLI\'s own, for a command line it could not understand):',
    '',
    '| Error code | Exit |',
    '| ---------- | ---- |',
    ...byCode,
    '',
  ].join('\n'),
);
await writeFile(path, text);
console.log(`updated ${path}`);
