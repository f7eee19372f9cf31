/**
 * The template database: found by its key (the migrations' checksums), or built once through the
 * migrator, so that migrations run exactly as in production. The build runs under an advisory
 * lock on the admin database, so parallel test files (threads or processes) build it once; the
 * others wait, then reuse it.
 */
import { poll, redactUrl, TemplateBuildTimeoutError } from '@offloop/core';
import { discoverMigrations } from '@offloop/core/engine';
import { createHash } from 'node:crypto';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { PoolWorkerOptions, TemplateInfo } from '../protocol.ts';
import { createDatabase, datname, dropDatabase, type Counters } from './databases.ts';
import { BUILD_LOCK_CLASS, databaseUrl, readyPrefix, templateName } from './names.ts';
import type { HarnessSession } from './harness-session.ts';

const POLL_MS = 100;
/** Version string of the key: bump it when the way templates are built changes. */
const KEY_VERSION = 'offloop-testing/2';

/** What a template build needs: the server, the session that takes the build lock, the counters. */
type TemplateSite = {
  readonly adminUrl: string;
  readonly pool: DatabasePool;
  readonly session: HarnessSession;
  readonly fileCopy: boolean;
  readonly stats: Counters;
  readonly project: string;
  readonly options: Pick<
    PoolWorkerOptions,
    'dir' | 'schema' | 'migrationsSchema' | 'table' | 'buildTimeout'
  >;
};

/** The template's key: every migration's file name and checksum, the schemas and the version table's name. */
async function templateKey(
  options: TemplateSite['options'],
): Promise<{ key: string; count: number }> {
  const files = await discoverMigrations(options.dir);
  const hash = createHash('sha256').update(
    `${KEY_VERSION}\0${options.schema}\0${options.migrationsSchema}\0${options.table}\0`,
  );
  for (const file of files) hash.update(`${file.file}\0${file.checksum}\n`);
  return { key: hash.digest('hex').slice(0, 16), count: files.length };
}

async function isTemplateReady(pool: DatabasePool, name: string): Promise<boolean> {
  const row = await pool.maybeOne(
    sql.type(
      z.object({ ready: z.boolean() }),
    )`select datistemplate as ready from pg_database where datname = ${name}`,
  );
  return row?.ready === true;
}

/** Find the template, or build it (see the module's comment). */
export async function ensureTemplate(site: TemplateSite): Promise<TemplateInfo> {
  const { options, pool, session, stats, project } = site;
  const startedAt = performance.now();
  const { key, count } = await templateKey(options);
  const name = templateName(project, key);
  const info = (built: boolean, dropped: readonly string[]): TemplateInfo => ({
    name,
    key,
    built,
    dropped,
    migrations: count,
    durationMs: Math.round(performance.now() - startedAt),
    server: redactUrl(site.adminUrl),
  });
  if (await isTemplateReady(pool, name)) return info(false, []);

  const lockKey = Number.parseInt(key.slice(0, 8), 16) | 0;
  const lock = await poll(
    () =>
      session.connection.oneFirst(
        sql.type(
          z.object({ locked: z.boolean() }),
        )`select pg_try_advisory_lock(${BUILD_LOCK_CLASS}::int, ${lockKey}::int) as locked`,
      ),
    { until: (locked) => locked, intervalMs: POLL_MS, timeoutMs: options.buildTimeout },
  );
  if (lock.timedOut) {
    throw new TemplateBuildTimeoutError(
      `Waited ${String(options.buildTimeout)} ms for another process to ` +
        `build the test template ${name}.`,
      { template: name, waitedMs: options.buildTimeout },
    );
  }
  try {
    if (await isTemplateReady(pool, name)) return info(false, []);
    // A build that crashed half-way left an unfinished template behind.
    await dropDatabase(pool, stats, name);
    await createDatabase(site, stats, name, 'template0');
    try {
      await migrate(databaseUrl(site.adminUrl, name), options);
      await disconnectAll(pool, name);
      // No one may connect to a template that is being cloned: CREATE DATABASE would fail.
      await pool.query(
        sql.unsafe`alter database ${sql.identifier([name])}
          with is_template true allow_connections false`,
      );
    } catch (error) {
      await dropDatabase(pool, stats, name).catch((cleanup: unknown) => {
        throw new SuppressedError(cleanup, error, 'dropping the unfinished template failed too');
      });
      throw error;
    }
    return info(true, await dropStale(site, name, readyPrefix(project, key)));
  } finally {
    await session.connection.query(
      sql.unsafe`select pg_advisory_unlock(${BUILD_LOCK_CLASS}::int, ${lockKey}::int)`,
    );
  }
}

/** Apply every migration to the new template, through the migrator's worker thread. */
async function migrate(url: string, options: TemplateSite['options']): Promise<void> {
  // Loaded only when a build is needed: most harnesses find the template ready.
  const { createMigrator } = await import('@offloop/worker');
  const migrator = createMigrator({
    url,
    dir: options.dir,
    schema: options.schema,
    migrationsSchema: options.migrationsSchema,
    table: options.table,
  });
  try {
    await migrator.up();
  } finally {
    await migrator.close();
  }
}

/** Drop this project's templates and ready clones for other sets of migrations. */
async function dropStale(
  site: Pick<TemplateSite, 'pool' | 'stats' | 'project'>,
  template: string,
  prefix: string,
): Promise<string[]> {
  const { pool, stats, project } = site;
  const stale = await pool.anyFirst(sql.type(datname)`
    select datname from pg_database
    where (starts_with(datname, ${`offloop_tpl_${project}_`}) and datname <> ${template})
       or (starts_with(datname, ${`offloop_r_${project}_`})
           and not starts_with(datname, ${prefix}))`);
  for (const name of stale) {
    if (name.startsWith('offloop_tpl_'))
      await pool.query(sql.unsafe`alter database ${sql.identifier([name])} with is_template false`);
    await dropDatabase(pool, stats, name);
  }
  return stale.filter((name) => name.startsWith('offloop_tpl_'));
}

/** Wait for the migrator's connections to the template to go away (a backend exits shortly after its client). */
async function disconnectAll(pool: DatabasePool, name: string): Promise<void> {
  const count = () =>
    pool.oneFirst(
      sql.type(
        z.object({ n: z.coerce.number() }),
      )`select count(*)::int as n from pg_stat_activity where datname = ${name}`,
    );
  const gone = await poll(count, { until: (n) => n === 0, intervalMs: 50, timeoutMs: 5_000 });
  if (!gone.timedOut) return;
  await pool.query(
    sql.unsafe`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`,
  );
}
