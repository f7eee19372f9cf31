/**
 * The harness's statements on the server's catalog: connecting, creating and dropping databases
 * (counted in the harness's stats), and claiming a ready clone.
 */
import {
  CreateDatabaseError,
  DatabaseUnavailableError,
  messageOf,
  quoteLiteral,
  redactUrl,
  retry,
} from '@offloop/core';
import { findPgError } from '@offloop/core/engine';
import { createPool, sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type { PoolStats } from '../protocol.ts';
import { CLAIM_LOCK_CLASS } from './names.ts';

/** The harness's counters, as the thread keeps them. */
export type Counters = { -readonly [K in keyof PoolStats]: PoolStats[K] };

/** Count a failure of background work, and keep its message for `stats()`. */
export function recordBackgroundFailure(stats: Counters, error: unknown): void {
  stats.backgroundFailures += 1;
  const pg = findPgError(error);
  stats.lastBackgroundError = pg !== null ? `${pg.sqlstate}: ${pg.message}` : messageOf(error);
}

/** A row of `pg_database` names. */
export const datname = z.object({ datname: z.string() });

/** A pool of admin connections of `size`, checked with one query. */
export async function connect(url: string, size: number): Promise<DatabasePool> {
  try {
    const pool = await createPool(url, {
      maximumPoolSize: size,
      statementTimeout: 'DISABLE_TIMEOUT',
      idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
      idleTimeout: 'DISABLE_TIMEOUT',
      transactionRetryLimit: 0,
      queryRetryLimit: 0,
      connectionRetryLimit: 0,
      connectionTimeout: 10_000,
      captureStackTrace: false,
    });
    await pool.query(sql.unsafe`select 1`);
    return pool;
  } catch (error) {
    throw new DatabaseUnavailableError(
      `The test harness cannot connect to ${redactUrl(url)}: ${messageOf(error)}`,
      { url: redactUrl(url), sqlstate: findPgError(error)?.sqlstate ?? null },
      { cause: error },
    );
  }
}

/** `CREATE DATABASE name TEMPLATE template`, with `STRATEGY FILE_COPY` when `fileCopy`. */
export async function createDatabase(
  base: { readonly pool: DatabasePool; readonly fileCopy: boolean },
  stats: Counters,
  name: string,
  template: string,
): Promise<void> {
  const strategy =
    base.fileCopy && template !== 'template0' ? sql.fragment` strategy file_copy` : sql.fragment``;
  const started = performance.now();
  try {
    await retry(
      () =>
        base.pool.query(
          sql.unsafe`create database ${sql.identifier([name])}
            template ${sql.identifier([template])}${strategy}`,
        ),
      {
        attempts: 3,
        // 55006: another session is connected to the template. PostgreSQL already waited 5 s.
        retryOn: (error) => findPgError(error)?.sqlstate === '55006',
      },
    );
  } catch (error) {
    const pg = findPgError(error);
    const reason = pg?.message ?? messageOf(error);
    throw new CreateDatabaseError(
      `CREATE DATABASE ${name} (template ${template}) failed: ${reason}`,
      { database: name, template, sqlstate: pg?.sqlstate ?? null, reason },
      { cause: error },
    );
  }
  stats.created += 1;
  stats.createMs += performance.now() - started;
}

/** `DROP DATABASE IF EXISTS name WITH (FORCE)`. */
export async function dropDatabase(
  pool: DatabasePool,
  stats: Counters,
  name: string,
): Promise<void> {
  await pool.query(sql.unsafe`drop database if exists ${sql.identifier([name])} with (force)`);
  stats.dropped += 1;
}

/**
 * Take a ready clone (one named `prefix...`) by renaming it to `name`; false when there is none.
 * One statement (a `DO` block) on an already-open claim connection, never queued behind a
 * `CREATE DATABASE` (that runs on the background connections). Claimers skip clones another
 * claimer is renaming (a transaction-level advisory lock per name) rather than queue behind its
 * lock on the database; one renamed away since the scan (3D000) is skipped too.
 */
export async function claimReady(
  claimPool: DatabasePool,
  prefix: string,
  name: string,
): Promise<boolean> {
  // A DO block takes no parameters: its body is text, with the (generated, hex) names quoted.
  const body = `declare d text;
begin
  for d in select datname from pg_database where starts_with(datname, ${quoteLiteral(prefix)}) loop
    if pg_try_advisory_xact_lock(${String(CLAIM_LOCK_CLASS)}, hashtext(d)) then
      begin
        execute format('alter database %I rename to %I', d, ${quoteLiteral(name)});
        return;
      exception when invalid_catalog_name or object_in_use then
        null;
      end;
    end if;
  end loop;
  raise exception 'no ready clone' using errcode = 'P0002';
end`;
  try {
    await claimPool.query(sql.unsafe`do ${sql.literalValue(body)}`);
    return true;
  } catch (error) {
    if (findPgError(error)?.sqlstate === 'P0002') return false;
    throw error;
  }
}
