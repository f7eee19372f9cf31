/**
 * The planner's checks and the plans of `up`, `down`, `stamp`, `repair` and `sql --from`, as pure
 * functions of the files and the version table's rows: no database, no threads.
 */
import test from 'ava';
import {
  ChecksumMismatchError,
  MigrationDirtyError,
  MigrationFileMissingError,
  MigrationFailure,
  MigrationFailedError,
  MigrationsPendingError,
  MissingDownError,
  MissingUpError,
  NonTransactionalStatementError,
  OfflineUnsupportedError,
  SingleTransactionConflictError,
  StatementTimeoutError,
  LockNotAvailableError,
  MigrationTimeoutError,
  MigrationTransactionControlError,
  effectiveTimeouts,
  fromEnvelope,
  toEnvelope,
  type AppliedMigration,
  type LogEntry,
  type MigrationFailedDetails,
  type MigrationFile,
} from '@offloop/core';
import { file, row } from '../helpers/plan-fixtures.ts';
import {
  assertDownSteps,
  assertNoModules,
  assertNotDirty,
  assertRevertible,
  assertSingleTransaction,
  assertTransactional,
  assertUpWritten,
  failedRuns,
  pendingError,
} from '../../packages/core/src/plan/checks.ts';
import { namesByVersion, repairActions } from '../../packages/core/src/plan/repair.ts';
import { planStamp } from '../../packages/core/src/plan/stamp.ts';
import {
  assumedAt,
  currentOf,
  filesFor,
  planDown,
  planUp,
  type PlanState,
} from '../../packages/core/src/plan/state.ts';
import { scriptRange, toStep } from '../../packages/core/src/plan/steps.ts';
import type { Prepared, Statement } from '../../packages/core/src/model/prepared.ts';
import { timeoutSettings } from '../../packages/core/src/sql/settings.ts';

const V1 = '20260101000000';
const V2 = '20260102000000';
const V3 = '20260103000000';

const failed = (version: string, overrides: Partial<LogEntry> = {}): LogEntry => ({
  id: 1,
  version,
  name: `m${version}`,
  direction: 'up',
  checksum: `sum-${version}`,
  outcome: 'partial',
  appliedBy: 'test',
  at: '2026-01-02T00:00:00.000Z',
  durationMs: 5,
  error: 'MIGRATION_FAILED: boom',
  statementsRun: 2,
  attempts: 1,
  ...overrides,
});
const state = (
  files: readonly MigrationFile[],
  applied: readonly AppliedMigration[],
  dirty: readonly LogEntry[] = [],
): PlanState => ({ files, applied, dirty, initialized: true });
const statement = (kind: string, node: unknown, sql = 'select 1'): Statement => ({
  sql,
  offset: 0,
  line: 3,
  column: 1,
  kind,
  node,
});
const prepared = (migration: MigrationFile, transaction = true): Prepared => ({
  migration,
  direction: 'up',
  options: {
    transaction,
    lockTimeout: null,
    statementTimeout: null,
    lockRetries: null,
    serial: false,
  },
  statements: [statement('SelectStmt', {})],
});

test('planUp: everything pending, up to a target, and nothing for base', (t) => {
  const files = [file(V1), file(V2), file(V3)];
  const s = state(files, [row(V1)]);
  t.deepEqual(
    planUp(s, undefined).pending.map((m) => m.version),
    [V2, V3],
  );
  t.deepEqual(
    planUp(s, V2).pending.map((m) => m.version),
    [V2],
  );
  t.deepEqual(planUp(s, 'base').pending, []);
});

test('planDown reverts the last applied first; filesFor refuses a gone file', (t) => {
  const s = state([file(V1), file(V2)], [row(V1), row(V2)]);
  t.deepEqual(
    planDown(s, {}).map((r) => r.version),
    [V2],
  );
  t.deepEqual(
    filesFor(s, planDown(s, { step: 2 })).map((f) => f.version),
    [V2, V1],
  );
  const gone = state([file(V1)], [row(V1), row(V2)]);
  t.throws(() => filesFor(gone, [row(V2)]), {
    instanceOf: MigrationFileMissingError,
    code: 'MIGRATION_FILE_MISSING',
  });
});

test('currentOf is the newest applied version, whatever the order', (t) => {
  t.is(currentOf([row(V2), row(V3), row(V1)]), V3);
  t.is(currentOf([]), null);
});

test('failedRuns says what an unresolved failure left, and whether its file changed or went', (t) => {
  const s = state(
    [file(V1), file(V2, 'edited')],
    [row(V1)],
    [
      failed(V1),
      failed(V2, { outcome: 'started', statementsRun: null }),
      failed(V3, { direction: 'down' }),
    ],
  );
  const [first, second, third] = failedRuns(s);
  t.like(first, {
    kind: 'failed',
    version: V1,
    statementsRun: 2,
    fileChanged: false,
    fileMissing: false,
    interrupted: false,
  });
  t.like(second, { version: V2, statementsRun: null, fileChanged: true, interrupted: true });
  t.like(third, { version: V3, direction: 'down', fileMissing: true, file: `${V3}_m${V3}` });
});

test('assertNotDirty refuses an unresolved failure; an edited file is taken as the fix unless strict', (t) => {
  t.throws(() => assertNotDirty(state([file(V1)], [], [failed(V1)])), {
    instanceOf: MigrationDirtyError,
    code: 'MIGRATION_DIRTY',
  });
  const edited = state([file(V1, 'edited')], [], [failed(V1)]);
  t.notThrows(() => assertNotDirty(edited));
  t.throws(() => assertNotDirty(edited, { strict: true }), { instanceOf: MigrationDirtyError });
  const gone = state([], [], [failed(V1)]);
  t.notThrows(() => assertNotDirty(gone));
  t.throws(() => assertNotDirty(gone, { strict: true }), { instanceOf: MigrationDirtyError });
  t.notThrows(() => assertNotDirty(state([file(V1)], [])));
});

test('assertRevertible refuses an edit to a migration it reverts, not to others', (t) => {
  const s = state([file(V1, 'edited'), file(V2)], [row(V1), row(V2)]);
  t.notThrows(() => assertRevertible(s, [row(V2)]));
  t.throws(() => assertRevertible(s, [row(V2), row(V1)]), {
    instanceOf: ChecksumMismatchError,
    code: 'CHECKSUM_MISMATCH',
  });
});

test('assertTransactional refuses a statement PostgreSQL runs outside transactions only', (t) => {
  const migration = file(V1);
  const concurrently = statement('IndexStmt', { concurrent: true });
  const error = t.throws(() => assertTransactional(migration, 'up', [concurrently]), {
    instanceOf: NonTransactionalStatementError,
    code: 'NON_TRANSACTIONAL_STATEMENT',
  });
  t.like(error?.details, { line: 3, column: 1, version: V1, direction: 'up' });
  t.notThrows(() => assertTransactional(migration, 'up', [statement('IndexStmt', {})]));
});

test('assertUpWritten and assertDownSteps refuse empty sections', (t) => {
  t.throws(() => assertUpWritten(file(V1), []), {
    instanceOf: MissingUpError,
    code: 'MIGRATION_UP_MISSING',
  });
  t.notThrows(() => assertUpWritten(file(V1), [statement('SelectStmt', {})]));
  t.notThrows(() => assertDownSteps([]));
  const error = t.throws(() => assertDownSteps([{ version: V1, file: 'a.sql' }]), {
    instanceOf: MissingDownError,
    code: 'MIGRATION_DOWN_MISSING',
  });
  t.deepEqual(error?.details.migrations, [{ version: V1, file: 'a.sql' }]);
});

test('a single transaction refuses non-transactional migrations; offline SQL refuses modules', (t) => {
  const ok = prepared(file(V1));
  t.notThrows(() => assertSingleTransaction([ok]));
  t.throws(() => assertSingleTransaction([ok, prepared(file(V2), false)]), {
    instanceOf: SingleTransactionConflictError,
    code: 'SINGLE_TRANSACTION_CONFLICT',
  });
  t.throws(() => assertNoModules([ok]), {
    instanceOf: OfflineUnsupportedError,
    code: 'OFFLINE_UNSUPPORTED',
  });
  t.notThrows(() => assertNoModules([]));
});

test('pendingError lists what check found pending', (t) => {
  const error = pendingError([file(V1), file(V2)]);
  t.true(error instanceof MigrationsPendingError);
  t.is(error.code, 'MIGRATIONS_PENDING');
  t.deepEqual(
    error.details.pending.map((m) => m.version),
    [V1, V2],
  );
});

test('repairActions: accept edits, resolve failures, forget missing files only when asked', (t) => {
  const s = state([file(V1, 'edited')], [row(V1), row(V2)], [failed(V1)]);
  const kept = repairActions(s, false);
  t.deepEqual(
    kept.actions.map((a) => a.kind),
    ['accept-checksum', 'resolve-failed'],
  );
  t.deepEqual(kept.skippedMissing, [`${V2}_m${V2}`]);
  const forgotten = repairActions(s, true);
  t.deepEqual(
    forgotten.actions.map((a) => a.kind),
    ['accept-checksum', 'forget-missing', 'resolve-failed'],
  );
  t.deepEqual(forgotten.skippedMissing, []);
  t.is(namesByVersion(s).get(V2), `m${V2}`);
});

test('planStamp records files up to the target and forgets what is after it', (t) => {
  const s = state([file(V1), file(V2), file(V3)], [row(V1), row(V3)]);
  const to2 = planStamp(s, V2);
  t.deepEqual(
    to2.toStamp.map((f) => f.version),
    [V2],
  );
  t.deepEqual(
    to2.toForget.map((r) => r.version),
    [V3],
  );
  t.is(to2.current, V2);
  const base = planStamp(s, 'base');
  t.deepEqual(base.toStamp, []);
  t.is(base.toForget.length, 2);
  t.is(base.current, null);
});

test('sql --from: the database is taken to be at that version, and the script range follows', (t) => {
  const files = [file(V1), file(V2), file(V3)];
  const at = assumedAt(files, V1);
  t.deepEqual(
    at.applied.map((r) => r.version),
    [V1],
  );
  t.deepEqual(assumedAt(files, 'base').applied, []);
  const items = [prepared(file(V2)), prepared(file(V3))];
  t.deepEqual(scriptRange(at, items, 'up'), { from: V1, to: V3 });
  t.deepEqual(scriptRange(at, [], 'up'), { from: V1, to: V1 });
  const down = { ...prepared(file(V1)), direction: 'down' } as Prepared;
  t.deepEqual(scriptRange(at, [down], 'down'), { from: V1, to: null });
  t.like(toStep(items[0] as Prepared), { version: V2, statements: 1, transactional: true });
});

test('one instanceof MigrationFailure catches every way a migration fails, each with its code', (t) => {
  const details: MigrationFailedDetails = {
    version: V1,
    name: 'm',
    file: 'f.sql',
    line: null,
    column: null,
    statement: null,
    statementCount: null,
    direction: 'up',
    transactional: true,
    statementsRun: 0,
    sqlstate: null,
    detail: null,
    hint: null,
    applied: [],
    invalidIndexes: [],
  };
  const failures = [
    new MigrationFailedError('x', details),
    new StatementTimeoutError('x', details),
    new LockNotAvailableError('x', { ...details, attempts: 1, blockedBy: [] }),
    new MigrationTimeoutError('x', { ...details, timeoutMs: 1 }),
    new MigrationTransactionControlError('x', { ...details, command: 'COMMIT' }),
  ];
  t.deepEqual(
    failures.map((error) => error.code),
    [
      'MIGRATION_FAILED',
      'STATEMENT_TIMEOUT',
      'LOCK_NOT_AVAILABLE',
      'MIGRATION_TIMEOUT',
      'MIGRATION_TRANSACTION_CONTROL',
    ],
  );
  for (const error of failures) {
    t.true(error instanceof MigrationFailure, error.code);
    t.true(fromEnvelope(toEnvelope(error)) instanceof MigrationFailure, error.code);
  }
  t.false(new MissingUpError('x', { file: 'f' }) instanceof MigrationFailure);
});

test('a migration runs with its own timeouts, else the configured ones; 0 in the config sets none', (t) => {
  const config = { statementLockTimeout: 5_000, statementTimeout: 0 };
  const none = { lockTimeout: null, statementTimeout: null, lockRetries: null, serial: false };
  t.deepEqual(effectiveTimeouts(config, none), { lockTimeout: 5_000, statementTimeout: null });
  t.deepEqual(effectiveTimeouts(config, { lockTimeout: 0, statementTimeout: 60_000 }), {
    lockTimeout: 0,
    statementTimeout: 60_000,
  });
  // The settings the engine sends are the same values.
  const resolved = { ...config } as Parameters<typeof timeoutSettings>[0];
  t.deepEqual(timeoutSettings(resolved, { transaction: true, ...none }), [
    "lock_timeout = '5000ms'",
  ]);
  t.deepEqual(
    timeoutSettings(
      resolved,
      { transaction: true, ...none },
      { lockTimeout: '1s', statementTimeout: '0' },
    ),
    ["lock_timeout = '5000ms'", "statement_timeout = '0'"],
  );
});
