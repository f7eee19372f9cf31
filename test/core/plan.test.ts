import test from 'ava';
import {
  assertRunnable,
  ChecksumMismatchError,
  MigrationFileMissingError,
  OutOfOrderError,
  plan,
  planRevert,
  revertOrder,
  TargetAmbiguousError,
  TargetNotFoundError,
  type AppliedMigration,
} from '@offloop/core';
import { file, row } from '../helpers/plan-fixtures.ts';

test('pending migrations come in version order, whatever the input order', (t) => {
  const result = plan(
    [file('20260103000000'), file('20260101000000'), file('20260102000000')],
    [row('20260101000000')],
  );
  t.deepEqual(
    result.pending.map((m) => m.version),
    ['20260102000000', '20260103000000'],
  );
  t.is(result.current, '20260101000000');
  t.deepEqual(result.problems, []);
  t.notThrows(() => assertRunnable(result));
});

test('an empty database has everything pending and no current version', (t) => {
  const result = plan([file('20260101000000')], []);
  t.is(result.current, null);
  t.is(result.pending.length, 1);
});

test('a target stops after that version and must exist', (t) => {
  const files = [file('20260101000000'), file('20260102000000'), file('20260103000000')];
  t.deepEqual(
    plan(files, [], { to: '20260102000000' }).pending.map((m) => m.version),
    ['20260101000000', '20260102000000'],
  );
  t.throws(() => plan(files, [], { to: '20260109000000' }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
});

test('an applied migration whose file is gone is a problem, refused as MIGRATION_FILE_MISSING', (t) => {
  const result = plan([file('20260102000000')], [row('20260101000000'), row('20260102000000')]);
  t.deepEqual(result.problems, [
    { kind: 'missing', version: '20260101000000', name: 'm20260101000000' },
  ]);
  t.is(result.applied[0]?.file, null);
  const error = t.throws(() => assertRunnable(result), {
    instanceOf: MigrationFileMissingError,
    code: 'MIGRATION_FILE_MISSING',
  });
  t.deepEqual(error.details.migrations, [{ version: '20260101000000', name: 'm20260101000000' }]);
});

test('an edited applied migration is refused as CHECKSUM_MISMATCH', (t) => {
  const result = plan([file('20260101000000', 'new')], [row('20260101000000', 'old')]);
  const error = t.throws(() => assertRunnable(result), {
    instanceOf: ChecksumMismatchError,
    code: 'CHECKSUM_MISMATCH',
  });
  t.deepEqual(error.details.migrations, [
    {
      version: '20260101000000',
      file: '20260101000000_m20260101000000.ts',
      applied: 'old',
      current: 'new',
    },
  ]);
});

test('a pending migration older than the newest applied one is refused as MIGRATION_OUT_OF_ORDER', (t) => {
  const result = plan(
    [file('20260101000000'), file('20260102000000'), file('20260103000000')],
    [row('20260101000000'), row('20260103000000')],
  );
  t.deepEqual(
    result.pending.map((m) => m.version),
    ['20260102000000'],
  );
  const error = t.throws(() => assertRunnable(result), {
    instanceOf: OutOfOrderError,
    code: 'MIGRATION_OUT_OF_ORDER',
  });
  t.is(error.details.newestApplied, '20260103000000');
  t.deepEqual(
    error.details.migrations.map((m) => m.version),
    ['20260102000000'],
  );
});

const at = (version: string, appliedAt: string): AppliedMigration => ({
  ...row(version),
  appliedAt,
});
const versionsOf = (rows: readonly AppliedMigration[]) => rows.map((applied) => applied.version);

// 1 and 3 applied in one run, 2 merged later with --allow-out-of-order.
const OUT_OF_ORDER = [
  at('20260101000000', '2026-02-01T10:00:00.000Z'),
  at('20260103000000', '2026-02-01T10:00:00.050Z'),
  at('20260102000000', '2026-02-03T09:00:00.000Z'),
];
const FILES = [
  file('20260101000000'),
  file('20260102000000'),
  file('20260103000000'),
  file('20260104000000'),
];

test('down reverts in the order of applied_at, the last applied first; rows applied together go newest version first', (t) => {
  t.deepEqual(versionsOf(revertOrder(OUT_OF_ORDER)), [
    '20260102000000',
    '20260103000000',
    '20260101000000',
  ]);
  // One single-transaction run: one applied_at for all.
  const together = [row('20260102000000'), row('20260103000000'), row('20260101000000')];
  t.deepEqual(versionsOf(revertOrder(together)), [
    '20260103000000',
    '20260102000000',
    '20260101000000',
  ]);
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER)), ['20260102000000']);
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { step: 2 })), [
    '20260102000000',
    '20260103000000',
  ]);
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { to: '-2' })), [
    '20260102000000',
    '20260103000000',
  ]);
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { to: 'base' })), [
    '20260102000000',
    '20260103000000',
    '20260101000000',
  ]);
});

test('down --to a version reverts what was applied after it, whatever the versions', (t) => {
  // 2 was applied after 3: going back to 3 reverts 2.
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { to: '20260103000000' })), [
    '20260102000000',
  ]);
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { to: '20260102000000' })), []);
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { to: '2026010100' })), [
    '20260102000000',
    '20260103000000',
  ]);
  t.throws(() => planRevert(FILES, OUT_OF_ORDER, { to: '202601' }), {
    instanceOf: TargetAmbiguousError,
    code: 'TARGET_AMBIGUOUS',
  });
});

test('down past the applied migrations, or to a pending one, is refused with TARGET_NOT_FOUND', (t) => {
  t.throws(() => planRevert(FILES, OUT_OF_ORDER, { step: 4 }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  t.throws(() => planRevert(FILES, OUT_OF_ORDER, { to: '-4' }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  const pending = t.throws(() => planRevert(FILES, OUT_OF_ORDER, { to: '20260104000000' }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  t.deepEqual(pending.details, { target: '20260104000000' });
  t.throws(() => planRevert(FILES, [], { step: 1 }), {
    instanceOf: TargetNotFoundError,
    code: 'TARGET_NOT_FOUND',
  });
  t.deepEqual(versionsOf(planRevert(FILES, OUT_OF_ORDER, { step: 3 })), [
    '20260102000000',
    '20260103000000',
    '20260101000000',
  ]);
  t.deepEqual(planRevert(FILES, []), [], 'a plain down on an empty database has nothing to do');
});
