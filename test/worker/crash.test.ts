import type { ExecutionContext, ThrowsExpectation } from 'ava';
import test from '../helpers/limited-test.ts';
import {
  MigrationModuleError,
  WorkerFailedError,
  WorkerOutOfMemoryError,
  WorkerUnresponsiveError,
  poll,
  type OffloopError,
} from '@offloop/core';
import { createMigrator, type MigratorOptions } from '@offloop/worker';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'slonik';
import { createTestDatabase, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { settledServerState } from '../helpers/isolation.ts';
import { logRows } from '../helpers/probes.ts';

const FIRST = '-- migrate:up\ncreate table first (id int);\n';
const CRASH_FILE = '20260102000000_crash.ts';
/** What replaces the crashing migration for the run that must then succeed. */
const GOOD = `export async function up({ connection, sql }) { await connection.query(sql.unsafe\`create table fixed (id int)\`); }\n`;

/**
 * Each crash kind: the call rejects with `expected`, the host lives on, the database holds only
 * the migration before the crash, nothing runs and no lock is held; then, with the file fixed,
 * the same migrator applies it in a fresh worker.
 */
async function crashThenRecover(
  t: ExecutionContext,
  crash: string,
  expected: ThrowsExpectation<OffloopError>,
  options: Partial<MigratorOptions> & {
    readonly timeout?: string;
    /** Abort once the crash file's first statement is done (its backend idle in transaction). */
    readonly abortWhenSpinning?: boolean;
    readonly firstApplied?: boolean;
    readonly afterCrash?: (url: string) => Promise<void>;
  } = {},
): Promise<OffloopError> {
  const url = await createTestDatabase(t);
  const dir = await migrationsDir(t, { '20260101000000_first.sql': FIRST, [CRASH_FILE]: crash });
  const {
    timeout,
    abortWhenSpinning = false,
    firstApplied = true,
    afterCrash,
    ...migratorOptions
  } = options;
  await using migrator = createMigrator({ url, dir, ...migratorOptions });
  const controller = new AbortController();
  let aborting: Promise<void> | undefined;
  const run = migrator.up({
    ...(timeout === undefined ? {} : { timeout }),
    signal: controller.signal,
    onProgress: (event) => {
      if (abortWhenSpinning && event.type === 'migration:started' && event.file === CRASH_FILE)
        aborting = abortOnceIdleInTransaction(url, controller);
    },
  });
  const error = await t.throwsAsync<OffloopError>(run, expected);
  await aborting;

  const state = await settledServerState(url);
  // Modules are imported before the first migration runs: an import failure stops everything.
  t.deepEqual(state.tables, firstApplied ? ['first'] : [], 'the crashed migration was rolled back');
  t.deepEqual(state.versions, firstApplied ? ['20260101000000'] : []);
  t.is(state.advisoryLocks, 0, 'the lock is free');
  t.deepEqual(state.backends, [], 'nothing left running on the server');
  await afterCrash?.(url);

  await writeFile(join(dir, CRASH_FILE), GOOD);
  const result = await migrator.up();
  t.deepEqual(
    result.applied.map((m) => m.version),
    firstApplied ? ['20260102000000'] : ['20260101000000', '20260102000000'],
  );
  t.deepEqual((await settledServerState(url)).tables, ['first', 'fixed']);
  return error;
}

/**
 * Abort once a backend of the database at `url` has finished the crash file's first statement
 * and waits, idle in its transaction, for the next: the module has gone on to what follows it.
 * A fixed delay after `migration:started` is not enough on a loaded machine: the abort can come
 * while the module still waits for that statement, which the run then cancels cooperatively.
 */
async function abortOnceIdleInTransaction(url: string, controller: AbortController): Promise<void> {
  await withPool(url, (pool) =>
    poll(
      () =>
        pool.exists(sql.unsafe`
          select from pg_stat_activity
          where datname = current_database() and state = 'idle in transaction'
            and query ilike 'create table doomed%'`),
      { until: (idle) => idle, intervalMs: 20, timeoutMs: 30_000 },
    ),
  );
  controller.abort();
}

/** `details.reason` of the error, which these error classes carry as a string. */
const reasonOf = (error: OffloopError): string =>
  typeof error.details.reason === 'string' ? error.details.reason : '';

test('a module that throws when imported: MIGRATION_MODULE_INVALID, then a successful run', async (t) => {
  const error = await crashThenRecover(
    t,
    `throw new Error('broken at import');\nexport function up() {}\n`,
    { instanceOf: MigrationModuleError, code: 'MIGRATION_MODULE_INVALID' },
    { firstApplied: false },
  );
  t.regex(reasonOf(error), /broken at import/);
});

test('a module that calls process.exit() inside its transaction: WORKER_FAILED, then a successful run', async (t) => {
  const crash = `export async function up({ connection, sql }) {
  await connection.query(sql.unsafe\`create table doomed (id int)\`);
  process.exit(3);
}\n`;
  const error = await crashThenRecover(
    t,
    crash,
    { instanceOf: WorkerFailedError, code: 'WORKER_FAILED' },
    {
      // The thread cannot write its failure; the host does, once its backends are gone.
      afterCrash: async (url) => {
        const failed = (await withPool(url, (pool) => logRows(pool))).filter(
          (row) => row.outcome === 'failed',
        );
        t.deepEqual(
          failed.map((row) => row.version),
          ['20260102000000'],
        );
        t.regex(failed[0]?.error ?? '', /^WORKER_FAILED/);
      },
    },
  );
  t.regex(reasonOf(error), /exited with code 3/);
  t.is(error.details.file, CRASH_FILE);
  t.deepEqual(
    (error.details.applied as { version: string }[]).map((m) => m.version),
    ['20260101000000'],
  );
  t.regex(error.message, /was rolled back/);
});

test('a module that calls process.exit() when imported: WORKER_FAILED naming it, nothing ran, no rollback claimed', async (t) => {
  const crash = `process.exit(5);\nexport async function up() {}\n`;
  const error = await crashThenRecover(
    t,
    crash,
    { instanceOf: WorkerFailedError, code: 'WORKER_FAILED' },
    { firstApplied: false },
  );
  t.is(error.details.file, CRASH_FILE);
  t.regex(error.message, new RegExp(`importing ${CRASH_FILE}`));
  t.notRegex(error.message, /rolled back/);
  t.deepEqual(error.details.applied, []);
});

test('a module that spins the CPU forever and is cancelled: WORKER_UNRESPONSIVE after the grace period, then a successful run', async (t) => {
  const crash = `export async function up({ connection, sql }) {
  await connection.query(sql.unsafe\`create table doomed (id int)\`);
  for (;;) {}
}\n`;
  const error = await crashThenRecover(
    t,
    crash,
    { instanceOf: WorkerUnresponsiveError, code: 'WORKER_UNRESPONSIVE' },
    { cancelGracePeriod: '500ms', abortWhenSpinning: true },
  );
  t.is(error.details.graceMs, 500);
  t.deepEqual(
    (error.details.applied as { version: string }[]).map((m) => m.version),
    ['20260101000000'],
  );
  t.is((error.cause as OffloopError | undefined)?.code, 'RUN_ABORTED');
});

test('a module that allocates until it runs out of memory: WORKER_OUT_OF_MEMORY, then a successful run', async (t) => {
  const crash = `export async function up({ connection, sql }) {
  await connection.query(sql.unsafe\`create table doomed (id int)\`);
  const hoard = [];
  for (;;) hoard.push(new Array(1_000_000).fill(hoard.length));
}\n`;
  const error = await crashThenRecover(
    t,
    crash,
    { instanceOf: WorkerOutOfMemoryError, code: 'WORKER_OUT_OF_MEMORY' },
    { workerResourceLimits: { maxOldGenerationSizeMb: 64 } },
  );
  t.deepEqual(
    (error.details.applied as { version: string }[]).map((m) => m.version),
    ['20260101000000'],
  );
});

test("an uncaught error thrown outside the migration's promise: WORKER_FAILED, then a successful run", async (t) => {
  const crash = `export async function up({ connection, sql }) {
  await connection.query(sql.unsafe\`create table doomed (id int)\`);
  setTimeout(() => { throw new Error('escaped'); }, 0);
  await new Promise(() => {});
}\n`;
  const error = await crashThenRecover(t, crash, {
    instanceOf: WorkerFailedError,
    code: 'WORKER_FAILED',
  });
  t.regex(reasonOf(error), /escaped/);
});
