/**
 * What the kill and lost-connection tests ask the server while a run goes on and after it:
 * offloop's backends, the advisory locks, the version table and the log. Each takes a slonik
 * connection or pool on the test database.
 *
 * No ava import: `scripts/chaos.ts` uses it too.
 */
import { createPool, sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';

/**
 * A pool for probing a test database while runs go on: a few connections (a gate holds one),
 * no statement or idle-in-transaction timeout (a gate stays idle in its transaction), no retries.
 */
export function openProbePool(url: string): Promise<DatabasePool> {
  return createPool(url, {
    maximumPoolSize: 3,
    connectionTimeout: 30_000,
    statementTimeout: 'DISABLE_TIMEOUT',
    idleInTransactionSessionTimeout: 'DISABLE_TIMEOUT',
    transactionRetryLimit: 0,
    queryRetryLimit: 0,
  });
}

/** A backend of the current database. */
export type Backend = {
  readonly pid: number;
  readonly applicationName: string;
  readonly state: string | null;
  /** `pg_stat_activity.wait_event_type`: `Lock` while it waits for a heavyweight lock. */
  readonly waitEventType: string | null;
  readonly query: string;
};

const backendRow = z.object({
  pid: z.number(),
  applicationName: z.string(),
  state: z.string().nullable(),
  waitEventType: z.string().nullable(),
  query: z.string(),
});

/** Client backends of the current database whose `application_name` carries an offloop run tag. */
export async function offloopBackends(db: CommonQueryMethods): Promise<readonly Backend[]> {
  return db.any(sql.type(backendRow)`
    select pid, application_name as "applicationName", state, wait_event_type as "waitEventType", query from pg_stat_activity
    where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'
      and application_name like '%offloop:%'
    order by pid`);
}

/** Backends waiting for a lock on `table` (in `public`): a migration held up by a test's gate. */
export async function backendsWaitingOn(
  db: CommonQueryMethods,
  table: string,
): Promise<readonly Backend[]> {
  return db.any(sql.type(backendRow)`
    select a.pid, a.application_name as "applicationName", a.state, a.wait_event_type as "waitEventType", a.query
    from pg_locks l join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'relation' and not l.granted and l.relation = to_regclass(${`public.${table}`})
    order by a.pid`);
}

/**
 * Backends holding an advisory lock in the current database, and how: `exclusive` for
 * `pg_advisory_lock` (offloop's run lock), not for `pg_advisory_lock_shared` (its work lock, held
 * by every connection that runs migration work).
 */
export async function advisoryLockHolders(db: CommonQueryMethods): Promise<
  readonly {
    readonly pid: number;
    readonly applicationName: string | null;
    readonly exclusive: boolean;
  }[]
> {
  return db.any(sql.type(
    z.object({ pid: z.number(), applicationName: z.string().nullable(), exclusive: z.boolean() }),
  )`
    select l.pid, a.application_name as "applicationName", bool_or(l.mode = 'ExclusiveLock') as exclusive
    from pg_locks l left join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.database = (select oid from pg_database where datname = current_database())
    group by l.pid, a.application_name
    order by l.pid`);
}

/** Advisory locks held or awaited in the current database. */
export async function advisoryLockCount(db: CommonQueryMethods): Promise<number> {
  return db.oneFirst(sql.type(z.object({ count: z.number() }))`
    select count(*)::int as count from pg_locks
    where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`);
}

/** Rows of `public.offloop_migrations` (empty when it does not exist). */
export async function appliedVersions(db: CommonQueryMethods): Promise<readonly string[]> {
  if (!(await tableExists(db, 'offloop_migrations'))) return [];
  return db.anyFirst(
    sql.type(
      z.object({ version: z.string() }),
    )`select version from public.offloop_migrations order by version`,
  );
}

/** One row of `public.offloop_migrations_log`. */
export type LogRow = {
  readonly id: number;
  readonly version: string;
  readonly direction: string;
  readonly outcome: string;
  readonly error: string | null;
};

const logRow = z.object({
  id: z.number(),
  version: z.string(),
  direction: z.string(),
  outcome: z.string(),
  error: z.string().nullable(),
});

/** The log, oldest first (empty when it does not exist). */
export async function logRows(db: CommonQueryMethods): Promise<readonly LogRow[]> {
  if (!(await tableExists(db, 'offloop_migrations_log'))) return [];
  return db.any(
    sql.type(
      logRow,
    )`select id::int as id, version, direction, outcome, error from public.offloop_migrations_log order by id`,
  );
}

/** Whether `public.<name>` is a table. */
export async function tableExists(db: CommonQueryMethods, name: string): Promise<boolean> {
  return db.oneFirst(
    sql.type(
      z.object({ exists: z.boolean() }),
    )`select to_regclass(${`public.${name}`}) is not null as exists`,
  );
}

/** Tables in `public`, apart from offloop's own (`offloop_*`). */
export async function userTables(db: CommonQueryMethods): Promise<readonly string[]> {
  const names = await db.anyFirst(sql.type(z.object({ relname: z.string() }))`
    select relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and c.relkind in ('r', 'p') order by relname`);
  return names.filter((name) => !name.startsWith('offloop_'));
}

/** Terminate backends by pid; returns the pids that were signalled. */
export async function terminate(
  db: CommonQueryMethods,
  pids: readonly number[],
): Promise<readonly number[]> {
  const signalled: number[] = [];
  for (const pid of pids) {
    if (
      await db.oneFirst(
        sql.type(z.object({ done: z.boolean() }))`select pg_terminate_backend(${pid}) as done`,
      )
    )
      signalled.push(pid);
  }
  return signalled;
}

/**
 * A gate: a test-owned ACCESS EXCLUSIVE lock on `public.<table>`, held in an open transaction
 * on its own connection. A migration that reads the table waits at it until {@link Gate.open}:
 * a slow migration whose length the test decides, not a `pg_sleep` racing the test's own steps.
 */
export type Gate = { open(): Promise<void> };

/** Create `public.<table>` if missing and close the gate on it. */
export async function closeGate(pool: DatabasePool, table: string): Promise<Gate> {
  await pool.query(
    sql.unsafe`create table if not exists ${sql.identifier(['public', table])} (id int)`,
  );
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const held = pool.transaction(async (transaction) => {
    await transaction.query(
      sql.unsafe`lock table ${sql.identifier(['public', table])} in access exclusive mode`,
    );
    locked();
    await released;
  });
  await Promise.race([isLocked, held]);
  return {
    async open() {
      release();
      await held;
    },
  };
}

/** Create database `name` on the server `admin` is connected to. */
export async function createDatabase(admin: CommonQueryMethods, name: string): Promise<void> {
  await admin.query(sql.unsafe`create database ${sql.identifier([name])}`);
}

/** Drop database `name`, ending the connections left on it. */
export async function dropDatabase(admin: CommonQueryMethods, name: string): Promise<void> {
  await admin.query(sql.unsafe`drop database if exists ${sql.identifier([name])} with (force)`);
}

/** Rows of `public.<table>`, optionally only those whose `column` equals `value`. */
export async function rowCount(
  db: CommonQueryMethods,
  table: string,
  where?: { readonly column: string; readonly value: string },
): Promise<number> {
  const filter =
    where === undefined
      ? sql.fragment``
      : sql.fragment`where ${sql.identifier([where.column])} = ${where.value}`;
  return db.oneFirst(
    sql.type(
      z.object({ count: z.number() }),
    )`select count(*)::int as count from ${sql.identifier(['public', table])} ${filter}`,
  );
}

/** Indexes in `public` that a failed or interrupted concurrent build left INVALID. */
export async function invalidIndexes(db: CommonQueryMethods): Promise<readonly string[]> {
  return db.anyFirst(sql.type(z.object({ name: z.string() }))`
    select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and not i.indisvalid order by c.relname`);
}

/** `drop index concurrently if exists public.<name>`. */
export async function dropIndexConcurrently(db: CommonQueryMethods, name: string): Promise<void> {
  await db.query(sql.unsafe`drop index concurrently if exists ${sql.identifier(['public', name])}`);
}

/**
 * The schema of `public` as sorted lines of text, offloop's own tables (`offloop_*`) and their
 * indexes, constraints and sequences left out: tables and their columns, constraints, indexes
 * (with their validity), views, materialized views, sequences, functions, triggers, enum types and
 * comments. Two databases migrated the same way give the same lines.
 */
export async function schemaSnapshot(db: CommonQueryMethods): Promise<readonly string[]> {
  const line = z.object({ line: z.string() });
  const lines = await db.anyFirst(sql.type(line)`
    with rels as (
      select c.oid, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and left(c.relname, 8) <> 'offloop_'
    )
    select 'relation ' || relname || ' ' || relkind::text as line from rels where relkind in ('r', 'p', 'v', 'm', 'S')
    union all
    select 'column ' || r.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
      || case when a.attnotnull then ' not null' else '' end
      || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
    from rels r join pg_attribute a on a.attrelid = r.oid left join pg_attrdef d on d.adrelid = r.oid and d.adnum = a.attnum
    where r.relkind in ('r', 'p', 'v', 'm') and a.attnum > 0 and not a.attisdropped
    union all
    select 'constraint ' || r.relname || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
    from pg_constraint co join rels r on r.oid = co.conrelid
    union all
    select 'index ' || pg_get_indexdef(i.indexrelid) || case when i.indisvalid then '' else ' INVALID' end
    from pg_index i join rels r on r.oid = i.indrelid
    union all
    select 'view ' || r.relname || ' ' || pg_get_viewdef(r.oid) from rels r where r.relkind in ('v', 'm')
    union all
    select 'function ' || pg_get_functiondef(p.oid)
    from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'
    union all
    select 'trigger ' || pg_get_triggerdef(t.oid) from pg_trigger t join rels r on r.oid = t.tgrelid where not t.tgisinternal
    union all
    select 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' order by e.enumsortorder)
    from pg_type t join pg_namespace n on n.oid = t.typnamespace join pg_enum e on e.enumtypid = t.oid
    where n.nspname = 'public' group by t.typname
    union all
    select 'comment ' || r.relname || ' ' || d.description from pg_description d join rels r on r.oid = d.objoid and d.objsubid = 0
  `);
  return [...lines].sort();
}
