import test from 'ava';
import {
  DatabaseUnavailableError,
  ERROR_CODES,
  FleetFailedError,
  fromEnvelope,
  InternalError,
  isOffloopError,
  LockLostError,
  LockTimeoutError,
  MigrationFailedError,
  OffloopError,
  parseConfig,
  SqlSyntaxError,
  toEnvelope,
  type ErrorCode,
} from '@offloop/core';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { runInNewContext } from 'node:vm';
import { asDatabaseUnavailable } from '../../packages/core/src/engine/db/pg-errors.ts';
import { withDatabaseErrors } from '../../packages/core/src/engine/db/pg-errors.ts';
import { NODE_VERSION_UNSUPPORTED } from '../../packages/core/src/node-version.ts';
import { createTestDatabase } from '../helpers/database.ts';

test('every error code has an entry in docs/errors.md', async (t) => {
  const docs = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...docs.matchAll(/^## ([A-Z_]+)$/gm)].map((match) => match[1]));
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[])
    t.true(documented.has(code), `${code} is not documented`);
  // USAGE is the CLI's own code (a command line it could not understand), and
  // NODE_VERSION_UNSUPPORTED core's refusal of an old Node.js (a plain error, thrown before any
  // offloop error class can load): documented beside them.
  const besides = ['USAGE', NODE_VERSION_UNSUPPORTED];
  for (const code of documented)
    t.true(
      code !== undefined && (code in ERROR_CODES || besides.includes(code)),
      `docs/errors.md documents unknown code ${code}`,
    );
  for (const code of besides) t.true(documented.has(code), `${code} is documented`);
});

test('an envelope survives structured clone and rebuilds the same class, code, details and cause', (t) => {
  const pgError = Object.assign(new Error('relation "nope" does not exist'), { code: '42P01' });
  const original = new MigrationFailedError(
    'boom',
    {
      version: '20260101000000',
      name: 'x',
      file: '20260101000000_x.sql',
      direction: 'up',
      transactional: true,
      statementsRun: 2,
      line: 3,
      column: 7,
      statement: 3,
      statementCount: 5,
      sqlstate: '42P01',
      detail: null,
      hint: null,
      applied: [],
      invalidIndexes: [],
    },
    { cause: pgError },
  );
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
  const inner = new SqlSyntaxError('bad', {
    file: 'a.sql',
    line: 1,
    column: 1,
    version: '1',
    reason: 'x',
  });
  const outer = new MigrationFailedError(
    'outer',
    {
      version: '1',
      name: 'a',
      file: 'a.sql',
      direction: 'up',
      transactional: true,
      statementsRun: 0,
      line: null,
      column: null,
      statement: null,
      statementCount: null,
      sqlstate: null,
      detail: null,
      hint: null,
      applied: [],
      invalidIndexes: [],
    },
    { cause: inner },
  );
  const rebuilt = fromEnvelope(structuredClone(toEnvelope(outer)));
  t.true(rebuilt.cause instanceof SqlSyntaxError);
});

test('anything that is not an offloop error becomes INTERNAL_ERROR with it as cause', (t) => {
  const envelope = toEnvelope(new TypeError('x is undefined'));
  t.is(envelope.code, 'INTERNAL_ERROR');
  t.is(fromEnvelope(envelope).code, 'INTERNAL_ERROR');
  t.is((fromEnvelope(envelope).cause as Error).name, 'TypeError');
});

const failedDetails = {
  version: '20260101000000',
  name: 'users',
  file: '20260101000000_users.sql',
  direction: 'up',
  transactional: true,
  statementsRun: 1,
  line: 2,
  column: 1,
  statement: 2,
  statementCount: 2,
  sqlstate: '22012',
  detail: null,
  hint: null,
  applied: [],
  invalidIndexes: [],
} as const;
const migrationFailed = () => new MigrationFailedError('division by zero', failedDetails);
const unavailable = () =>
  new DatabaseUnavailableError(
    'Lost the connection to postgres://u@db/app: terminating connection due to administrator command',
    { url: 'postgres://u@db/app', sqlstate: '57P01' },
  );
// What pg and slonik throw when the server ends a session: SQLSTATE 57P01 under slonik's own error.
const terminated = () =>
  new Error('Backend has been terminated.', {
    cause: Object.assign(new Error('terminating connection due to administrator command'), {
      code: '57P01',
    }),
  });

const roundTrip = (error: unknown) => fromEnvelope(structuredClone(toEnvelope(error)));

test('a SuppressedError travels as its original failure, with the cleanup failure attached', (t) => {
  // lock.ts's shape: the cleanup failure is `error`, the run's failure `suppressed`.
  const rebuilt = roundTrip(
    new SuppressedError(
      unavailable(),
      migrationFailed(),
      'releasing the migration lock failed after the run failed',
    ),
  );
  t.true(rebuilt instanceof MigrationFailedError);
  t.is(rebuilt.code, 'MIGRATION_FAILED');
  t.deepEqual(rebuilt.details, failedDetails);
  t.is(rebuilt.suppressed?.length, 1);
  const [cleanup] = rebuilt.suppressed ?? [];
  t.true(cleanup instanceof DatabaseUnavailableError);
  t.deepEqual((cleanup as DatabaseUnavailableError).details, {
    url: 'postgres://u@db/app',
    sqlstate: '57P01',
  });
  // Without a cleanup failure nothing is attached.
  t.is(roundTrip(migrationFailed()).suppressed, undefined);
  t.false('suppressed' in toEnvelope(migrationFailed()));
});

test('nested SuppressedErrors: the innermost original failure counts, the cleanup failures follow in the order they happened', (t) => {
  const lockLost = new LockLostError("The migration lock's connection ended during the run.", {
    lockKey: '42',
    applied: [],
    version: null,
    file: null,
  });
  const closing = Object.assign(new Error('Cannot use a pool after calling end on the pool'), {
    code: 'POOL_ENDED',
  });
  const rebuilt = roundTrip(
    new SuppressedError(
      closing,
      new SuppressedError(lockLost, migrationFailed(), 'first cleanup'),
      'second cleanup',
    ),
  );
  t.true(rebuilt instanceof MigrationFailedError);
  const [first, second, ...rest] = rebuilt.suppressed ?? [];
  t.true(first instanceof LockLostError);
  t.is(second?.message, 'Cannot use a pool after calling end on the pool');
  t.is((second as { code?: string } | undefined)?.code, 'POOL_ENDED');
  t.deepEqual(rest, []);
  // Rebuilt and sent again (a host that passes the error on), nothing is lost or repeated.
  t.deepEqual(
    roundTrip(rebuilt).suppressed?.map((error) => error.message),
    [lockLost.message, closing.message],
  );
});

test('an AggregateError travels as its offloop error, else as its first error, with the others attached', (t) => {
  const rebuilt = roundTrip(
    new AggregateError(
      [new TypeError('x is undefined'), unavailable(), new Error('third')],
      'several failures',
    ),
  );
  t.true(rebuilt instanceof DatabaseUnavailableError);
  t.deepEqual(
    rebuilt.suppressed?.map((error) => [error.name, error.message]),
    [
      ['TypeError', 'x is undefined'],
      ['Error', 'third'],
    ],
  );

  const internal = roundTrip(new AggregateError([new RangeError('first'), new Error('second')]));
  t.true(internal instanceof InternalError);
  t.is((internal.cause as Error).name, 'RangeError');
  t.deepEqual(
    internal.suppressed?.map((error) => error.message),
    ['second'],
  );
});

test('a SuppressedError whose original failure is no offloop error is INTERNAL_ERROR with the cleanup failure attached', (t) => {
  const rebuilt = roundTrip(new SuppressedError(unavailable(), new TypeError('x is undefined')));
  t.true(rebuilt instanceof InternalError);
  t.is((rebuilt.cause as Error).name, 'TypeError');
  t.true(rebuilt.suppressed?.[0] instanceof DatabaseUnavailableError);
});

test('a lost connection inside a SuppressedError maps to DATABASE_UNAVAILABLE, and the original failure keeps its code (withDatabaseErrors)', async (t) => {
  const url = await createTestDatabase(t);
  const config = parseConfig({ url, dir: '.' });
  const original = migrationFailed();
  const thrown = await t.throwsAsync(
    withDatabaseErrors(config, () =>
      Promise.reject(
        new SuppressedError(
          terminated(),
          original,
          'releasing the migration lock failed after the run failed',
        ),
      ),
    ),
  );
  t.true(thrown instanceof SuppressedError);
  t.is(
    (thrown as SuppressedError).suppressed,
    original,
    'the original failure is passed on as it was',
  );
  const cleanup = (thrown as SuppressedError).error as DatabaseUnavailableError;
  t.true(cleanup instanceof DatabaseUnavailableError);
  t.is(cleanup.details.sqlstate, '57P01');

  const rebuilt = roundTrip(thrown);
  t.true(rebuilt instanceof MigrationFailedError);
  t.is(rebuilt.suppressed?.[0]?.constructor, DatabaseUnavailableError);
  // In an AggregateError too, each part on its own.
  const aggregate = await t.throwsAsync(
    withDatabaseErrors(config, () =>
      Promise.reject(
        new AggregateError([terminated(), new Error('Connection terminated unexpectedly')]),
      ),
    ),
  );
  const parts = (aggregate as AggregateError).errors as unknown[];
  t.true(parts.every((part) => part instanceof DatabaseUnavailableError));
  t.regex((parts[1] as Error).message, /^Lost the connection to /);
});

test('isOffloopError recognises an offloop error from another realm or another copy of the package, by shape', (t) => {
  t.true(isOffloopError(migrationFailed()));
  t.true(isOffloopError(roundTrip(migrationFailed())));

  // A vm context is another realm: its errors are not `instanceof Error` here.
  const foreign: unknown = runInNewContext(
    `Object.assign(new Error('division by zero'), { code: 'MIGRATION_FAILED', details: { version: '1' } })`,
  );
  t.false(foreign instanceof Error);
  t.true(isOffloopError(foreign));
  t.is(toEnvelope(foreign).code, 'MIGRATION_FAILED');
  t.deepEqual(toEnvelope(foreign).details, { version: '1' });
  t.true(
    roundTrip(new SuppressedError(new Error('cleanup'), foreign)) instanceof MigrationFailedError,
  );

  // Another copy of @offloop/core (a duplicate install): its class is another one, its brand the same.
  class CopiedOffloopError {
    get [Symbol.for('offloop.error')]() {
      return true;
    }
  }
  const copy = Object.assign(new CopiedOffloopError(), {
    name: 'LockTimeoutError',
    message: 'held',
    code: 'LOCK_TIMEOUT',
    details: { lockKey: '42' },
  });
  t.true(isOffloopError(copy));
  t.is(toEnvelope(copy).code, 'LOCK_TIMEOUT');
  t.true(roundTrip(copy) instanceof LockTimeoutError);

  // Data shaped like one is not an error: an envelope, an unbranded object, unknown codes.
  t.false(isOffloopError(toEnvelope(migrationFailed())));
  t.false(isOffloopError({ name: 'Error', message: 'x', code: 'MIGRATION_FAILED', details: {} }));
  t.false(isOffloopError(Object.assign(new Error('x'), { code: 'ECONNRESET', details: {} })));
  t.false(isOffloopError(Object.assign(new Error('x'), { code: 'MIGRATION_FAILED' })));
  t.false(
    isOffloopError(
      runInNewContext(`Object.assign(new Error('x'), { code: 'toString', details: {} })`),
    ),
  );
  t.false(isOffloopError(null));
  t.false(isOffloopError('MIGRATION_FAILED'));
});

test('a session the server ended is a lost connection, one it refused is not: by SQLSTATE', (t) => {
  const serverError = (code: string, message: string) =>
    Object.assign(new Error(message), { code });
  const url = 'postgres://app:secret@db.internal:5432/app';
  const lost = asDatabaseUnavailable(
    serverError('57P01', 'terminating connection due to administrator command'),
    url,
  );
  t.true(lost instanceof DatabaseUnavailableError);
  t.regex((lost as Error).message, /^Lost the connection to postgres:\/\/app:\*\*\*@db\.internal/);
  const starting = asDatabaseUnavailable(
    serverError('57P03', 'the database system is starting up'),
    url,
  );
  t.regex((starting as Error).message, /^Cannot connect to /);
});

test('an inspected fleet error shows its counts and first failures, not every target of a large fleet', (t) => {
  const targets = Array.from({ length: 1_000 }, (_, index) => ({
    target: `tenant_${index}`,
    database: 'app',
    schema: `tenant_${index}`,
    outcome: index < 8 ? ('failed' as const) : ('applied' as const),
    applied: [],
    version: null,
    durationMs: 1,
    canary: false,
    error: index < 8 ? { code: 'MIGRATION_FAILED' as const, message: 'boom' } : null,
  }));
  const counts = {
    total: 1_000,
    applied: 992,
    'up-to-date': 0,
    failed: 8,
    cancelled: 0,
    'not-run': 0,
  };
  const error = new FleetFailedError('8 of 1,000 targets failed', {
    targets,
    counts,
    stopped: null,
    durationMs: 1,
  });
  const shown = inspect(error);
  t.true(shown.split('\n').length < 40, shown);
  t.regex(shown, /FleetFailedError: 8 of 1,000 targets failed/);
  t.regex(shown, /tenant_0: failed, MIGRATION_FAILED: boom/);
  t.regex(shown, /\.\.\. and 3 more/);
  t.is(error.details.targets.length, 1_000, 'the details keep every target');
  // Node prints an uncaught error with custom inspection off: the details stay out of it too.
  const uncaught = inspect(error, { customInspect: false, depth: 5 });
  t.true(uncaught.split('\n').length < 20, uncaught);
  t.regex(uncaught, /code: 'FLEET_FAILED'/);
});
