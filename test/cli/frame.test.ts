/**
 * Code frames (`  3 | the line` and a caret under the column) are bounded and safe to print,
 * whatever a migration file holds: a 10 MB line, terminal escapes, tabs, wide characters, a BOM.
 */
import type { ExecutionContext } from 'ava';
import test from '../helpers/limited-test.ts';
import { SqlSyntaxError } from '@offloop/core';
import { discoverMigrations, loadParser, splitSection } from '@offloop/core/engine';
import { EXIT_CODES } from 'offloop';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderError } from '../../packages/cli/src/output/render-error.ts';
import { offloop } from '../helpers/cli.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';

const FILE = '20260101000000_x.sql';

/** Control characters a terminal acts on (ESC, BEL, CR, C1, bidi overrides), line feed aside. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/** The frame `renderError` prints for a syntax error at `line`:`column` of a file holding `source`. */
async function frameFor(
  t: ExecutionContext,
  source: string | Buffer,
  line: number,
  column: number,
): Promise<{ output: string; shown: string; caret: number }> {
  const dir = await migrationsDir(t, {});
  await writeFile(join(dir, FILE), source);
  const error = new SqlSyntaxError('x', {
    file: FILE,
    line,
    column,
    version: '20260101000000',
    reason: 'x',
  });
  const output = renderError(error, { cwd: dir, migrationsDir: dir });
  const lines = output.split('\n');
  const at = lines.findIndex((text) => text.startsWith(`  ${line} | `));
  const shown = (lines[at] ?? '').slice(`  ${line} | `.length);
  const caretLine = (lines[at + 1] ?? '').slice(`  ${' '.repeat(String(line).length)} | `.length);
  t.regex(caretLine, /^ *\^$/, output);
  return { output, shown, caret: caretLine.length - 1 };
}

test('a 10 MB line is shown as a window of about 120 characters around the column, the caret under its character', async (t) => {
  const before = 'x'.repeat(5_000_000);
  const line = `select ${before}MARK${'y'.repeat(5_000_000)}`;
  const column = 'select '.length + before.length + 1;
  const { output, shown, caret } = await frameFor(t, `-- migrate:up\n${line}\n`, 2, column);
  t.true(output.length < 1000, `printed ${output.length} characters`);
  t.true(shown.startsWith('…') && shown.endsWith('…'), shown);
  t.true([...shown].length <= 124, shown);
  t.is(shown.slice(caret, caret + 4), 'MARK');
});

test('the window reaches the end of a long line when the column is near it, and a short line is shown whole', async (t) => {
  const line = `${'1+'.repeat(1000)}1 from from;`;
  const end = await frameFor(t, `-- migrate:up\n${line}\n`, 2, line.lastIndexOf('from') + 1);
  t.true(end.shown.startsWith('…') && end.shown.endsWith('from from;'), end.shown);
  t.is(end.shown.slice(end.caret), 'from;');
  const short = await frameFor(t, '-- migrate:up\nselec 2;\n', 2, 1);
  t.is(short.shown, 'selec 2;');
  t.is(short.caret, 0);
});

test('terminal escapes in the line are shown escaped, and the caret stays under its character', async (t) => {
  const line = 'select \u001b]0;owned\u0007\u001b[2J\r\u009b\u202e x frm t;';
  const { output, shown, caret } = await frameFor(
    t,
    `-- migrate:up\n${line}\n`,
    2,
    line.indexOf('frm') + 1,
  );
  t.false(CONTROL.test(output), JSON.stringify(output));
  t.true(shown.includes('\\x1b]0;owned\\x07\\x1b[2J\\x0d\\x9b\\u{202e}'), shown);
  t.is(shown.slice(caret, caret + 3), 'frm');
});

test('tabs become spaces in the line and under it, so the caret lines up', async (t) => {
  const line = '\tselect\t1\tfrm t;';
  const { output, shown, caret } = await frameFor(
    t,
    `-- migrate:up\n${line}\n`,
    2,
    line.indexOf('frm') + 1,
  );
  t.false(output.includes('\t'));
  t.is(shown.slice(caret, caret + 3), 'frm');
});

test('wide characters before the column take two columns of padding', async (t) => {
  const line = "select '表の名前' frm t;";
  const { shown, caret } = await frameFor(
    t,
    `-- migrate:up\n${line}\n`,
    2,
    line.indexOf('frm') + 1,
  );
  // Four wide characters: the caret sits four columns further right than their count.
  t.is(caret, shown.indexOf('frm') + 4);
});

test('a byte order mark does not shift the caret on the first line', async (t) => {
  const { shown, caret } = await frameFor(
    t,
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('selec 1; -- migrate:up\n')]),
    1,
    1,
  );
  t.is(shown, 'selec 1; -- migrate:up');
  t.is(caret, 0);
});

test('a syntax error quoting megabytes of an unterminated string keeps the message short', async (t) => {
  const dir = await migrationsDir(t, {
    [FILE]: `-- migrate:up\nselect '${'a'.repeat(1_000_000)}\n`,
  });
  const [migration] = await discoverMigrations(dir);
  if (migration?.kind !== 'sql') return t.fail('not a SQL migration');
  await loadParser();
  const error = t.throws(() => splitSection(migration, migration.up), {
    instanceOf: SqlSyntaxError,
    code: 'SQL_SYNTAX_ERROR',
  });
  t.true((error?.message.length ?? Infinity) < 300, `${error?.message.length} characters`);
  t.true((error?.details.reason.length ?? Infinity) < 200);
  t.like(error?.details, { line: 2, column: 8 });
});

test('offloop up on a 10 MB one-line file with a syntax error prints a bounded report, with no raw escapes', async (t) => {
  const url = await createTestDatabase(t);
  for (const body of [
    `select ${'1+'.repeat(5_000_000)}1 from from;`,
    `select '${'\u001b[2J'.repeat(2_500_000)}`,
  ]) {
    const dir = await migrationsDir(t, { [FILE]: `-- migrate:up\n${body}\n` });
    const result = await offloop(['up', '--url', url, '--dir', dir]);
    t.is(result.code, EXIT_CODES.SQL_SYNTAX_ERROR);
    t.regex(result.stderr, /^error\[SQL_SYNTAX_ERROR\]: /);
    t.true(result.stderr.length < 2000, `stderr holds ${result.stderr.length} characters`);
    t.false(CONTROL.test(result.stderr), JSON.stringify(result.stderr.slice(0, 500)));
  }
});
