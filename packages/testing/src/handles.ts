/** What a harness hands out: the harness itself and a database for one test. */
import type { PoolStats, PruneResult, TemplateInfo } from './protocol.ts';

/** A database for one test. Release it when the test ends (or use `await using`). */
export type TestDatabase = AsyncDisposable & {
  /** Database name, `offloop_u_...`. */
  readonly name: string;
  /** Connection string of the database, with the credentials of the harness's URL. */
  readonly url: string;
  /** True when it came ready from the pool, false when it had to be cloned on demand. */
  readonly fromPool: boolean;
  /** Drop the database (`WITH (FORCE)`: connections still open are closed). Safe to call twice. */
  release(): Promise<void>;
};

/** Hands out migrated databases. Create one per test file with {@link createTestDatabases}. */
export type TestDatabases = AsyncDisposable & {
  /**
   * Resolves once the harness can hand out databases: its worker thread and connections are up
   * and the template is ready (built once, under a lock, by whichever process gets there first).
   * Await it in the suite's setup (`test.before`, `before`, or at the top of the module), so that
   * each test's `acquire()` is only the claim of a ready clone.
   *
   * @throws {MigrationFailedError} (and the other migration errors) when the template cannot be built
   */
  ready(): Promise<TemplateInfo>;
  /**
   * A fresh database, migrated to the latest migration: a ready clone claimed from the pool (a
   * few ms), or one cloned on demand when none is ready. Waits for {@link ready} first.
   *
   * @throws {MigrationFailedError} (and the other migration errors) when the template cannot be built
   * @throws {CreateDatabaseError} when the server refuses `CREATE DATABASE`
   */
  acquire(): Promise<TestDatabase>;
  /** The same as {@link ready} (its older name). */
  template(): Promise<TemplateInfo>;
  /** Counters: databases handed out, how many came from the pool, clones created. */
  stats(): Promise<PoolStats>;
  /**
   * Drop the templates and ready clones that other projects left on this server (one set per
   * migrations directory: temporary directories, old checkouts), except those of projects whose
   * harness is running. This project's own stay. For a shared test server, in a clean-up step.
   */
  prune(): Promise<PruneResult>;
  /**
   * Drop every database this harness handed out and not released, stop the worker thread. Ready
   * clones stay on the server for the next harness (they are dropped when the migrations change).
   */
  close(): Promise<void>;
};
