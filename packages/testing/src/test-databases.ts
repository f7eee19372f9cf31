/**
 * The test harness, host side: its options and types, and {@link createTestDatabases}. A fresh,
 * migrated PostgreSQL database per test, cloned from a template that is migrated once through the
 * migrator's worker thread. All database work (the template build, the pool of ready clones,
 * drops) runs in a dedicated worker thread: the host thread (the test file) never imports slonik.
 * The host side of one harness, which talks to that thread, is in `harness.ts`.
 */
import { ConfigError, toConfigIssues, formatConfigIssues, configSchema } from '@offloop/core';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { Harness } from './harness.ts';
import type { TestDatabases } from './handles.ts';
import type { PoolWorkerOptions } from './protocol.ts';

export type { PoolStats, PruneResult, TemplateInfo } from './protocol.ts';
export type { TestDatabase, TestDatabases } from './handles.ts';

/** Options of {@link createTestDatabases}. */
export type TestDatabasesOptions = {
  /**
   * Connection string of a database on the server to use (tests need `CREATEDB`); templates and
   * clones are created next to it.
   * @default process.env.TEST_DATABASE_URL, or else a shared embedded PostgreSQL (see `docs/testing.md`)
   */
  readonly url?: string | undefined;
  /** Migrations directory, relative to `cwd`. @default "./migrations" */
  readonly dir?: string | undefined;
  /** Base directory of a relative `dir`. @default process.cwd() */
  readonly cwd?: string | undefined;
  /** The schema migrations run in (the migrator's `schema`). @default "public" */
  readonly schema?: string | undefined;
  /** Schema of the version table (the migrator's `migrationsSchema`). @default the value of `schema` */
  readonly migrationsSchema?: string | undefined;
  /** Name of the version table. @default "offloop_migrations" */
  readonly table?: string | undefined;
  /**
   * How many migrated clones to keep ready on the server, at least, shared by every harness
   * (thread or process) using the same migrations; 0 clones on demand only. The harness keeps
   * more when the project's suites have held more databases at once (the peak is remembered on
   * the template across runs, up to 32).
   * @default 4
   */
  readonly poolSize?: number | undefined;
  /** How many clones this harness creates at once in the background. @default 2 */
  readonly maxParallelCreates?: number | undefined;
  /**
   * `CREATE DATABASE ... STRATEGY`: `file_copy` copies the template's files (fast for small
   * databases; PostgreSQL 15+), `wal_log` copies block by block through the WAL. `auto` picks
   * `file_copy` where the server has it.
   * @default "auto"
   */
  readonly strategy?: 'auto' | 'file_copy' | 'wal_log' | undefined;
  /** How long to wait for a template that another process is building, in ms. @default 600000 */
  readonly buildTimeout?: number | undefined;
  /**
   * With the shared embedded PostgreSQL: how long it keeps running once no client is connected,
   * in ms, so that the next test run finds it (and its templates) warm.
   * @default 30000
   */
  readonly embeddedIdleTimeout?: number | undefined;
};

const optionsSchema = z.strictObject({
  url: configSchema.shape.url.optional(),
  dir: z.string().min(1).default('./migrations'),
  cwd: z.string().min(1).optional(),
  schema: configSchema.shape.schema,
  migrationsSchema: configSchema.shape.migrationsSchema,
  table: configSchema.shape.table,
  poolSize: z.number().int().min(0).max(64).default(4),
  maxParallelCreates: z.number().int().min(1).max(16).default(2),
  strategy: z.enum(['auto', 'file_copy', 'wal_log']).default('auto'),
  buildTimeout: z.number().int().positive().default(600_000),
  embeddedIdleTimeout: z.number().int().nonnegative().default(30_000),
});

/**
 * Create a test harness. It starts at once, in the background: a worker thread builds the
 * template (once per set of migrations, shared across processes and test runs) and keeps
 * `poolSize` clones ready.
 *
 * @throws {ConfigError} at once, for invalid options (every problem listed)
 * @example
 * ```ts
 * import test from 'ava';
 * import { createTestDatabases } from '@offloop/testing';
 *
 * const databases = createTestDatabases({ dir: 'migrations' });
 * test.before(() => databases.ready()); // suite setup: worker thread, connections, template
 * test.after.always(() => databases.close());
 *
 * test('creates a user', async (t) => {
 *   const db = await databases.acquire();
 *   t.teardown(() => db.release());
 *   // connect to db.url: a fresh database with every migration applied
 * });
 * ```
 */
export function createTestDatabases(options: TestDatabasesOptions = {}): TestDatabases {
  const parsed = optionsSchema.safeParse(
    Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
  );
  if (!parsed.success) {
    const issues = toConfigIssues(parsed.error);
    throw new ConfigError(formatConfigIssues(issues, 'test harness options'), { issues });
  }
  const value = parsed.data;
  const cwd = value.cwd ?? process.cwd();
  const envUrl = process.env['TEST_DATABASE_URL'];
  const workerOptions: PoolWorkerOptions = {
    url: value.url ?? (envUrl !== undefined && envUrl !== '' ? envUrl : null),
    dir: path.resolve(cwd, value.dir),
    schema: value.schema,
    migrationsSchema: value.migrationsSchema ?? value.schema,
    table: value.table,
    poolSize: value.poolSize,
    maxParallelCreates: value.maxParallelCreates,
    strategy: value.strategy,
    buildTimeout: value.buildTimeout,
    embeddedIdleTimeout: value.embeddedIdleTimeout,
    // One shared server per project (keyed by its directory), reachable by the `postgres` OS
    // user when running as root (the system temp directory is).
    embeddedDir: path.join(os.tmpdir(), `offloop-testing-${projectHash(cwd)}`),
  };

  return new Harness(workerOptions);
}

/** A short hash of the project directory: it names the project's shared server directory. */
function projectHash(cwd: string): string {
  return createHash('sha256').update(path.resolve(cwd)).digest('hex').slice(0, 12);
}
