/**
 * A migrator for one command, on the configured database or, when nothing names one (no URL, no
 * `PG*` environment), on an embedded PostgreSQL started for the command and stopped after it (also
 * on failure).
 */
import { basename, join } from 'node:path';
import { redactUrl } from '@offloop/core';
import type { Migrator } from '@offloop/worker';
import type { Io } from './io.ts';
import { CONFIG_FILE_NAME } from './config-file.ts';
import type { CliConfig } from './load-config.ts';
import type { Output } from './output/output.ts';

/** Where the embedded PostgreSQL keeps its data, relative to the working directory. */
export const EMBEDDED_DATA_DIR = join('.offloop', 'pg');

/** The database a command ran against, for human output. */
export type CommandDatabase = {
  /** A redacted URL, or a description of the embedded PostgreSQL. */
  readonly description: string;
  readonly embedded: boolean;
};

/** Options of {@link withMigrator}. */
export type WithMigratorOptions = {
  /**
   * The call needs no database (`sql` with `from`): start no embedded PostgreSQL and require no
   * URL. @default false
   */
  readonly offline?: boolean;
};

/** Stands in for the URL of an offline call, which never connects; `.invalid` never resolves (RFC 2606). */
const OFFLINE_URL = 'postgres://offline.invalid/offloop';

/**
 * Run `fn` with a migrator; close it, and stop the embedded PostgreSQL if one was started, when
 * `fn` settles. A failure while cleaning up never hides the failure of `fn` (the two travel
 * together as a `SuppressedError`), and after a success it is a warning, not a failure: the
 * migrations are committed by then.
 */
export async function withMigrator<T>(
  config: CliConfig,
  io: Io,
  output: Output,
  fn: (migrator: Migrator, database: CommandDatabase) => Promise<T>,
  options: WithMigratorOptions = {},
): Promise<T> {
  // Imported here, not at the top: `create` and `--help` need neither the worker pool nor PostgreSQL.
  const { createMigrator } = await import('@offloop/worker');
  return withCleanup(output, async (stack) => {
    let url: string;
    let database: CommandDatabase;
    if (options.offline === true) {
      // The migrator's options require a URL; an offline call never connects, so none is
      // started, asked for, or read.
      url = config.url ?? OFFLINE_URL;
      database = { description: 'no database (offline)', embedded: false };
    } else {
      ({ url, database } = await openDatabase(config, io, output, stack));
    }
    const migrator = stack.use(createMigrator({ ...config.options, url }));
    return fn(migrator, database);
  });
}

/**
 * The command's database: the configured URL, or, when nothing names one, an embedded
 * PostgreSQL started now and stopped with `stack`.
 */
export async function openDatabase(
  config: CliConfig,
  io: Io,
  output: Output,
  stack: AsyncDisposableStack,
): Promise<{ url: string; database: CommandDatabase }> {
  if (config.url !== null)
    return { url: config.url, database: { description: redactUrl(config.url), embedded: false } };
  const { startEmbeddedPostgres } = await import('@offloop/embedded-postgres');
  const postgres = stack.use(
    await startEmbeddedPostgres({ dataDir: join(io.cwd, EMBEDDED_DATA_DIR) }),
  );
  output.addSecrets([postgres.url]);
  const description = `embedded PostgreSQL ${postgres.version} (data in ${EMBEDDED_DATA_DIR})`;
  // One line, naming every place a database could have come from: a pipeline that forgot its
  // DATABASE_URL shows it here.
  const file = config.configFile === null ? CONFIG_FILE_NAME : basename(config.configFile);
  output.notice(
    `no database given (--url, DATABASE_URL, ${file}, PG* environment): using ${description}`,
  );
  return { url: postgres.url, database: { description, embedded: true } };
}

/**
 * Run `fn` with a stack of resources it acquires, disposed of when it settles. A failure while
 * cleaning up never hides the failure of `fn` (the two travel together as a `SuppressedError`),
 * and after a success it is a warning, not a failure: the migrations are committed by then.
 */
export async function withCleanup<T>(
  output: Output,
  fn: (stack: AsyncDisposableStack) => Promise<T>,
): Promise<T> {
  const stack = new AsyncDisposableStack();
  let result: T;
  try {
    result = await fn(stack);
  } catch (error) {
    try {
      await stack.disposeAsync();
    } catch (cleanupError) {
      throw new SuppressedError(cleanupError, error, 'Cleaning up after the failure failed too');
    }
    throw error;
  }
  try {
    await stack.disposeAsync();
  } catch (cleanupError) {
    output.warning('the command succeeded, but cleaning up failed', cleanupError);
  }
  return result;
}
