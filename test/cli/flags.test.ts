/**
 * The CLI's flag layer with no process and no database: values typed from the flag specs, every
 * problem reported at once, and the call options read through the operations' own schemas.
 */
import test from 'ava';
import {
  downOptionsSchema,
  redoOptionsSchema,
  stampOptionsSchema,
  upOptionsSchema,
  type ConfigIssue,
} from '@offloop/core';
import { readFrom } from '../../packages/cli/src/flags/script-flags.ts';
import { optionFlags, readOptions } from '../../packages/cli/src/flags/option-flags.ts';
import {
  DATABASE_FLAGS,
  OPTION_FLAGS,
  optionsFromFlags,
} from '../../packages/cli/src/flags/database-options.ts';
import { parseCommandLine } from '../../packages/cli/src/flags/parse.ts';
import type { FlagValues } from '../../packages/cli/src/flags/spec.ts';

const FLAGS = {
  to: { type: 'string', placeholder: 'target', description: 'A target' },
  'allow-out-of-order': { type: 'boolean', description: 'A switch' },
  help: { type: 'boolean', short: 'h', description: 'Help' },
} as const;

test('parsed values are typed from the flag specs: a string flag is text, a boolean flag true', (t) => {
  const parsed = parseCommandLine(['--to', '+2', '--allow-out-of-order', '-h'], FLAGS);
  const to: string | undefined = parsed.values.to;
  const allow: boolean | undefined = parsed.values['allow-out-of-order'];
  t.is(to, '+2');
  t.is(allow, true);
  t.is(parsed.values.help, true);
  t.deepEqual(parsed.issues, []);
  // @ts-expect-error a misspelt flag name does not compile
  t.is(parsed.values['allow-out-of-ordre'], undefined);
  // @ts-expect-error nor does a boolean flag read as text
  const text: string | undefined = parsed.values['allow-out-of-order'];
  t.truthy(text);
});

test('a flag that was not given is absent, and a value of the wrong kind is dropped with an issue', (t) => {
  const parsed = parseCommandLine(['--allow-out-of-order=yes', '--to'], FLAGS);
  t.deepEqual(parsed.values, {});
  t.deepEqual(parsed.issues, [
    { path: '--allow-out-of-order', message: 'takes no value' },
    { path: '--to', message: 'needs a value: --to <target>' },
  ]);
  const values: FlagValues<typeof FLAGS> = parseCommandLine(['-x', 'pos'], FLAGS).values;
  t.deepEqual(values, {});
});

test('a negative number is a value; another flag where a value belongs is a problem', (t) => {
  t.is(parseCommandLine(['--to', '-2'], FLAGS).values.to, '-2');
  const parsed = parseCommandLine(['--to', '--help'], FLAGS);
  t.is(parsed.issues[0]?.path, '--to');
  t.regex(parsed.issues[0]?.message ?? '', /write --to=--help if you mean it/);
});

test('each migrator-option flag names the option it sets; its text is decoded as its spec says and checked', (t) => {
  t.is(OPTION_FLAGS['lock-timeout'], 'lockTimeout');
  t.is(DATABASE_FLAGS['worker-nice'].option, 'workerNice');
  const issues: ConfigIssue[] = [];
  t.deepEqual(
    optionsFromFlags(
      {
        'worker-nice': ' 5 ',
        'worker-resource-limits': '{"stackSizeMb": 4}',
        'lock-timeout': '30s',
        json: true,
        to: '+1',
      },
      issues,
    ),
    { workerNice: 5, workerResourceLimits: { stackSizeMb: 4 }, lockTimeout: '30s' },
  );
  t.deepEqual(issues, []);
  // Not a whole number: passed on as text, and refused by the schema on its flag.
  t.deepEqual(optionsFromFlags({ 'worker-nice': 'high' }, issues), { workerNice: 'high' });
  t.deepEqual(
    issues.map((issue) => issue.path),
    ['--worker-nice'],
  );
  t.deepEqual(optionsFromFlags({ 'worker-resource-limits': '{' }, issues), {});
  t.is(issues[1]?.path, '--worker-resource-limits');
  t.regex(issues[1]?.message ?? '', /^not valid JSON: /);
  // A problem inside an object option is reported on its flag, with the key.
  optionsFromFlags({ 'worker-resource-limits': '{"stackSizeMb": -1}' }, issues);
  t.is(issues[2]?.path, '--worker-resource-limits stackSizeMb');
});

const UP = optionFlags(upOptionsSchema);
const DOWN = optionFlags(downOptionsSchema);
const REDO = optionFlags(redoOptionsSchema);
// Stamp's version is the command's argument; as a flag here, to check it the same way.
const STAMP = optionFlags(stampOptionsSchema);

test("targets are checked by the operation's schema, with the forms the command takes in the message", (t) => {
  const issues: ConfigIssue[] = [];
  t.is(readOptions(upOptionsSchema, UP, {}, issues).to, undefined);
  t.is(readOptions(upOptionsSchema, UP, { to: '+2' }, issues).to, '+2');
  t.is(readOptions(downOptionsSchema, DOWN, { to: '2026' }, issues).to, '2026');
  t.deepEqual(issues, []);
  readOptions(upOptionsSchema, UP, { to: 'soon' }, issues);
  readOptions(upOptionsSchema, UP, { to: '-1' }, issues);
  readOptions(downOptionsSchema, DOWN, { to: '+1' }, issues);
  readOptions(stampOptionsSchema, STAMP, { to: 'x' }, issues);
  t.deepEqual(issues, [
    { path: '--to', message: 'must be a version, a version prefix, or +N; got "soon"' },
    {
      path: '--to',
      message:
        'must be a version, a version prefix, or +N going up; to go back, use offloop down --to -1',
    },
    {
      path: '--to',
      message:
        'must be a version, a version prefix, base or -N going down; to go forward, use offloop up --to +1',
    },
    { path: '--to', message: 'must be a version, a version prefix, base, +N or -N; got "x"' },
  ]);
});

test('--from is a version, a prefix or base, and only with --sql', (t) => {
  const issues: ConfigIssue[] = [];
  t.is(readFrom({ from: 'base', sql: true }, issues), 'base');
  t.deepEqual(issues, []);
  readFrom({ from: '+1' }, issues);
  t.deepEqual(issues, [
    { path: '--from', message: 'only with --sql' },
    { path: '--from', message: 'must be a version, a version prefix, or base' },
  ]);
});

test('--step is a positive whole number by the schema, --timeout a duration, and exclusive flags are one or the other', (t) => {
  const issues: ConfigIssue[] = [];
  t.deepEqual(readOptions(redoOptionsSchema, REDO, { step: '3', timeout: '2m' }, issues), {
    step: 3,
    timeout: 120_000,
  });
  t.deepEqual(issues, []);
  for (const bad of ['0', '-1', '1.5', '1e3', ' 2', String(2 ** 60)]) {
    const before = issues.length;
    readOptions(downOptionsSchema, DOWN, { step: bad }, issues);
    t.is(issues.length, before + 1, bad);
  }
  t.is(issues.length, 6);
  t.deepEqual(issues[0], { path: '--step', message: 'must be a positive whole number; got "0"' });
  const timeout: ConfigIssue[] = [];
  readOptions(redoOptionsSchema, REDO, { timeout: 'soon' }, timeout);
  t.is(timeout[0]?.path, '--timeout');
  const both: ConfigIssue[] = [];
  readOptions(downOptionsSchema, DOWN, { step: '1', to: 'base' }, both);
  readOptions(downOptionsSchema, DOWN, { step: '1' }, both);
  t.deepEqual(both, [{ path: '--to', message: 'cannot be combined with --step' }]);
});
