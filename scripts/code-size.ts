/**
 * The longest functions and largest files of the packages' source, and the code lines (not
 * comments) over 100 characters: what a reader meets first when a unit grew too big.
 *
 *   ./dev node scripts/code-size.ts [--top 8] [checkout]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ts from 'typescript';

const { values: flags, positionals } = parseArgs({
  options: { top: { type: 'string' } },
  allowPositionals: true,
});
const top = Number(flags.top ?? 8);
const root = path.resolve(positionals[0] ?? '.');
const files = execFileSync('git', ['ls-files', 'packages/*/src/*.ts', 'packages/*/src/**/*.ts'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((file) => file !== '');

type Sized = { readonly lines: number; readonly where: string };
const functions: Sized[] = [];
const sizes: Sized[] = [];
let longLines = 0;

for (const file of files) {
  const text = readFileSync(path.join(root, file), 'utf8');
  const lines = text.split('\n');
  sizes.push({ lines: lines.length, where: file });
  longLines += lines.filter((line) => line.length > 100 && !/^\s*(\/\/|\*|\/\*)/.test(line)).length;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (position: number) => source.getLineAndCharacterOfPosition(position).line;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = lineOf(node.getStart());
      const name =
        node.name?.getText(source) ??
        (ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(source) : '(anonymous)');
      functions.push({
        lines: lineOf(node.end) - start + 1,
        where: `${file}:${start + 1} ${name}`,
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

const largest = (list: Sized[]) =>
  [...list]
    .sort((a, b) => b.lines - a.lines)
    .slice(0, top)
    .map(({ lines, where }) => `  ${String(lines).padStart(5)}  ${where}`)
    .join('\n');
console.log(`${files.length} files in packages/*/src`);
console.log(`longest functions (lines):\n${largest(functions)}`);
console.log(`largest files (lines):\n${largest(sizes)}`);
console.log(`code lines over 100 characters: ${longLines}`);
