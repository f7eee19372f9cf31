/**
 * Dropping what no running harness uses: the clones of a harness that is gone without cleaning
 * up, and the templates and clones of other projects (`prune()`). Each is dropped only while its
 * owner's or project's lock is free, taken on the harness's session connection.
 */
import { sql, type DatabasePool, type DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import type { PruneResult } from '../protocol.ts';
import { datname, dropDatabase, type Counters } from './databases.ts';
import type { HarnessSession } from './harness-session.ts';
import { OWNER_LOCK_CLASS, PROJECT_LOCK_CLASS, projectLockKey } from './names.ts';

/** Where a sweep runs: the server, the session that takes the locks, the counters. */
type SweepSite = {
  readonly pool: DatabasePool;
  readonly session: HarnessSession;
  readonly stats: Counters;
};

/**
 * Drop clones of this project (named `prefix<owner>_...`) whose owner (a harness in another thread
 * or process) is gone without cleaning up; `ownerId` is this harness.
 */
export async function sweepAbandoned(
  site: SweepSite,
  prefix: string,
  ownerId: number,
): Promise<void> {
  const { pool, session, stats } = site;
  const names = await pool.anyFirst(
    sql.type(datname)`select datname from pg_database where starts_with(datname, ${prefix})`,
  );
  const owners = groupBy(names, (name) => {
    const owner = Number.parseInt(name.slice(prefix.length, prefix.length + 8), 16);
    return !Number.isInteger(owner) || owner === ownerId ? null : owner;
  });
  for (const [owner, databases] of owners) {
    if (!(await tryLock(session.connection, OWNER_LOCK_CLASS, owner))) continue;
    await unlock(session.connection, OWNER_LOCK_CLASS, owner);
    for (const name of databases) await dropDatabase(pool, stats, name);
  }
}

/**
 * Drop the templates and clones of every other project on the server that no running harness
 * uses (each harness holds its project's lock shared; this takes it exclusively, or skips the
 * project). A harness of such a project that starts meanwhile waits, then builds its template.
 */
export async function pruneOtherProjects(site: SweepSite, project: string): Promise<PruneResult> {
  const { pool, session, stats } = site;
  const names = await pool.anyFirst(sql.type(datname)`
      select datname from pg_database where datname ~ '^offloop_(tpl|r|u)_[0-9a-f]{8}_'
      order by datname`);
  const byProject = groupBy(names, (name) => {
    const owner = name.split('_')[2] ?? '';
    return owner === project ? null : owner;
  });
  const dropped: string[] = [];
  let projectsInUse = 0;
  for (const [other, databases] of byProject) {
    const key = projectLockKey(other);
    if (!(await tryLock(session.connection, PROJECT_LOCK_CLASS, key))) {
      projectsInUse += 1;
      continue;
    }
    try {
      for (const name of databases) {
        if (name.startsWith('offloop_tpl_'))
          await pool.query(
            sql.unsafe`alter database ${sql.identifier([name])} with is_template false`,
          );
        await dropDatabase(pool, stats, name);
        dropped.push(name);
      }
    } finally {
      await unlock(session.connection, PROJECT_LOCK_CLASS, key);
    }
  }
  return { dropped, projectsInUse };
}

/** `names` by the key `keyOf` gives each, in order; a null key leaves the name out. */
function groupBy<K>(names: readonly string[], keyOf: (name: string) => K | null): Map<K, string[]> {
  const groups = new Map<K, string[]>();
  for (const name of names) {
    const key = keyOf(name);
    if (key !== null) groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return groups;
}

/** `pg_try_advisory_lock(lockClass, key)` on the session's connection: true when taken. */
function tryLock(
  connection: DatabasePoolConnection,
  lockClass: number,
  key: number,
): Promise<boolean> {
  return connection.oneFirst(
    sql.type(
      z.object({ free: z.boolean() }),
    )`select pg_try_advisory_lock(${lockClass}::int, ${key}::int) as free`,
  );
}

function unlock(
  connection: DatabasePoolConnection,
  lockClass: number,
  key: number,
): Promise<unknown> {
  return connection.query(sql.unsafe`select pg_advisory_unlock(${lockClass}::int, ${key}::int)`);
}
