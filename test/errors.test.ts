import test from 'ava';
import {
  ERROR_CODES,
  fromEnvelope,
  MigrationFailedError,
  OffloopError,
  SqlSyntaxError,
  toEnvelope,
  type ErrorCode,
} from '@offloop/core';
import { readFile } from 'node:fs/promises';

test('every error code has an entry in docs/errors.md', async (t) => {
  const docs = await readFile(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...docs.matchAll(/^## ([A-Z_]+)$/gm)].map((match) => match[1]));
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) t.true(documented.has(code), `${code} is not documented`);
  // USAGE is the CLI's own code (a command line it could not understand), documented beside them.
  for (const code of documented) t.true(code !== undefined && (code in ERROR_CODES || code === 'USAGE'), `docs/errors.md documents unknown code ${code}`);
  t.true(documented.has('USAGE'), 'the CLI\'s USAGE code is documented');
});

test('an envelope survives structured clone and rebuilds the same class, code, details and cause', (t) => {
  const pgError = Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' });
  const original = new MigrationFailedError('boom', {
    version: '20260101000000', name: 'x', file: '20260101000000_x.sql', direction: 'up', transactional: true, statementsRun: 2, line: 3, column: 7, statement: 3, statementCount: 5,
    sqlstate: '42P01', detail: null, hint: null, applied: [], invalidIndexes: [],
  }, { cause: pgError });
  const rebuilt = fromEnvelope(structuredClone(toEnvelope(original)));
  t.true(rebuilt instanceof MigrationFailedError);
  t.true(rebuilt instanceof OffloopError);
  t.is(rebuilt.code, 'MIGRATION_FAILED');
  t.is(rebuilt.name, 'MigrationFailedError');
  t.deepEqual(rebuilt.details, original.details);
  t.is((rebuilt.cause as Error).message, 'relation "nope" does not exist');
  t.is((rebuilt.cause as { code?: string }).code, '42P01');
});

test('an offloop error as cause is rebuilt as its class', (t) => {
  const inner = new SqlSyntaxError('bad', { file: 'a.sql', line: 1, column: 1, version: '1', reason: 'x' });
  const outer = new MigrationFailedError('outer', {
    version: '1', name: 'a', file: 'a.sql', direction: 'up', transactional: true, statementsRun: 0, line: null, column: null, statement: null, statementCount: null,
    sqlstate: null, detail: null, hint: null, applied: [], invalidIndexes: [],
  }, { cause: inner });
  const rebuilt = fromEnvelope(structuredClone(toEnvelope(outer)));
  t.true(rebuilt.cause instanceof SqlSyntaxError);
});

test('anything that is not an offloop error becomes INTERNAL_ERROR with it as cause', (t) => {
  const envelope = toEnvelope(new TypeError('x is undefined'));
  t.is(envelope.code, 'INTERNAL_ERROR');
  t.is(fromEnvelope(envelope).code, 'INTERNAL_ERROR');
  t.is((fromEnvelope(envelope).cause as Error).name, 'TypeError');
});
