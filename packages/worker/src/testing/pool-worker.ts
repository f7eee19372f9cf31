/**
 * The test harness's worker thread: builds the template database once (through the migrator,
 * so migrations run exactly as in production), keeps a pool of ready clones on the server and
 * hands them out, and drops what tests release. Everything that touches PostgreSQL is here.
 *
 * Names on the server (all 63 bytes or less):
 * - `offloop_tpl_<project>_<key>`: the template; `datistemplate` is set only once every migration
 *   applied, so a half-built template is never cloned.
 * - `offloop_r_<project>_<key>_<random>`: a ready clone, shared by every harness (thread or
 *   process) of the same project. A harness claims one by renaming it, which is atomic:
 *   PostgreSQL re-checks the name after locking the database, so of two renames one fails.
 * - `offloop_u_<project>_<owner>_<random>`: a clone in use by a test. `<owner>` is the harness's
 *   id, held as a session advisory lock while it lives, so that clones left by a crashed process
 *   can be told from live ones and dropped.
 */
import {
  CreateDatabaseError,
  DatabaseUnavailableError,
  LockTimeoutError,
  redactUrl,
  toEnvelope,
} from '@offloop/core';
import { discoverMigrations, findPgError } from '@offloop/core/engine';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { createPool, sql, type DatabasePool, type DatabasePoolConnection } from 'slonik';
import { z } from 'zod';
import type {
  AcquiredDatabase,
  PoolNotice,
  PoolRequest,
  PoolResponse,
  PoolResults,
  PoolStats,
  PoolWorkerOptions,
  PruneResult,
  TemplateInfo,
} from './messages.ts';
import { projectId } from './project.ts';
import { ensureSharedServer } from './shared-server.ts';

/** First key of the two-integer advisory locks: harness owners. */
const OWNER_LOCK_CLASS = 0x0ff1;
/** First key of the two-integer advisory locks: template builds. */
const BUILD_LOCK_CLASS = 0x0ff2;
/** First key of the two-integer advisory locks: a ready clone being claimed. */
const CLAIM_LOCK_CLASS = 0x0ff3;
/**
 * First key of the two-integer advisory locks: a project. Every harness holds it shared while it
 * lives; `prune()` drops a project's databases only under it, exclusively.
 */
const PROJECT_LOCK_CLASS = 0x0ff4;
const POLL_MS = 100;
/** Upper bound of the pool size learnt from past peaks (disk: one template's size per clone). */
const MAX_LEARNED_POOL = 32;
/** Upper bound of the reserve claimed ahead for one harness. */
const MAX_RESERVE = 16;
/** Connections kept open for claims (a file's tests ask at once; a claim takes a few ms). */
const CLAIM_CONNECTIONS = 4;
/** Version string of the key: bump it when the way templates are built changes. */
const KEY_VERSION = 'offloop-testing/1';

const options = workerData as PoolWorkerOptions;
const port = parentPort;
if (port === null) throw new Error('pool-worker.ts must run in a worker thread');

const project = projectId(options.dir);
const projectLockKey = (hex: string): number => Number.parseInt(hex, 16) | 0;
const ownerId = randomInt(1, 2 ** 31 - 1);
const ownerHex = ownerId.toString(16).padStart(8, '0');
const inUsePrefix = `offloop_u_${project}_`;
const stats: { -readonly [K in keyof PoolStats]: PoolStats[K] } = {
  acquired: 0,
  fromPool: 0,
  created: 0,
  createMs: 0,
  dropped: 0,
  backgroundFailures: 0,
  lastBackgroundError: null,
};

const datname = z.object({ datname: z.string() });

type Started = {
  readonly adminUrl: string;
  /** Claims only: connections opened at start-up, so a claim is one statement on an open connection. */
  readonly claimPool: DatabasePool;
  /** On-demand clones and drops. */
  readonly pool: DatabasePool;
  /** Background clones, so that a slow CREATE DATABASE never holds up a claim. */
  readonly backgroundPool: DatabasePool;
  readonly sessionPool: DatabasePool;
  /** The session that holds this harness's locks; replaced if its connection is lost. */
  readonly session: SessionHolder;
  readonly fileCopy: boolean;
  readonly template: TemplateInfo;
  readonly readyPrefix: string;
};

/** The one connection that holds the harness's session-level locks, and how to give it back. */
type SessionHolder = {
  current: DatabasePoolConnection;
  /** Resolves the session's callback, which unlocks and returns the connection. */
  end: () => Promise<void>;
  /** The timer that checks the connection is still there. */
  watch: NodeJS.Timeout | undefined;
};

/** How often the session's connection is checked: its locks vanish with it. */
const SESSION_CHECK_MS = 5_000;

let started: Promise<Started> | undefined;
let closing = false;
const inUse = new Set<string>();
let inFlight = 0;
let waiting = 0;
let refilling = false;
/** Most databases of this project in use at once, seen by this harness or remembered on the template. */
let peakInUse = 0;
let rememberedPeak = 0;
/** Most databases this harness (one test file) has handed out at once, or remembered from past runs. */
let filePeak = 0;
let rememberedFilePeak = 0;
/**
 * Clones claimed ahead for this harness (renamed to its in-use names) and sent to the host thread,
 * which hands them out without a round trip. Given back to the pool at close if unused.
 */
const reserved = new Set<string>();
let reserving = 0;
let refillAgain = false;
/** Set after a background failure; cleared by the timer that resumes the refill. */
let refillPaused = false;
let completion = Promise.withResolvers<void>();

const start = (): Promise<Started> => {
  started ??= startUp();
  return started;
};

async function startUp(): Promise<Started> {
  let adminUrl: string;
  let pool: DatabasePool;
  if (options.url !== null) {
    adminUrl = options.url;
    pool = await connect(adminUrl, 8);
  } else {
    // The shared server may stop for idleness between finding it and connecting: look again.
    for (let attempt = 1; ; attempt += 1) {
      adminUrl = await ensureSharedServer({
        dir: options.embeddedDir,
        idleTimeout: options.embeddedIdleTimeout,
      });
      try {
        pool = await connect(adminUrl, 8);
        break;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  }
  const pools = [pool];
  try {
    const claimPool = await connect(adminUrl, CLAIM_CONNECTIONS);
    pools.push(claimPool);
    // Open every claim connection now (slonik opens them lazily): the tests of a file ask at once.
    await Promise.all(
      Array.from({ length: CLAIM_CONNECTIONS }, () =>
        claimPool.connect((connection) => connection.query(sql.unsafe`select 1`)),
      ),
    );
    const sessionPool = await connect(adminUrl, 1);
    pools.push(sessionPool);
    const backgroundPool = await connect(adminUrl, options.maxParallelCreates + 1);
    pools.push(backgroundPool);
    // Before anything of the project is read: a prune that holds the project waits no one out.
    const session = await openSession(sessionPool);
    watchSession(sessionPool, session);
    const version = await pool.oneFirst(
      sql.type(
        z.object({ v: z.coerce.number() }),
      )`select current_setting('server_version_num')::int as v`,
    );
    const fileCopy = version >= 150_000 && options.strategy !== 'wal_log';
    const base = { adminUrl, claimPool, pool, backgroundPool, sessionPool, session, fileCopy };
    await sweepAbandoned(base);
    const template = await ensureTemplate(base);
    const readyPrefix = `offloop_r_${project}_${template.key}_`;
    const comment = await pool.maybeOneFirst(sql.type(z.object({ comment: z.string().nullable() }))`
      select shobj_description(oid, 'pg_database') as comment from pg_database where datname = ${template.name}`);
    rememberedPeak = Number(/\bpeak=(\d+)/.exec(comment ?? '')?.[1] ?? 0);
    rememberedFilePeak = Number(/\bfile-peak=(\d+)/.exec(comment ?? '')?.[1] ?? 0);
    peakInUse = rememberedPeak;
    filePeak = rememberedFilePeak;
    const ready = { ...base, template, readyPrefix };
    // Top the pool up at once, while the test file loads, not at the first claim; claim this
    // file's reserve from what is ready (part of the setup: ready() waits for it).
    if (options.poolSize > 0) {
      refill(ready);
      await topUpReserve(ready);
    }
    return ready;
  } catch (error) {
    await Promise.all(pools.map((each) => each.end()));
    throw error;
  }
}

/**
 * Hold the harness's session: the owner lock (in {@link holdSession}) and the project lock,
 * shared. Idle timeouts are turned off for this connection: a server with `idle_session_timeout`
 * would otherwise end it between tests, and with it the locks that keep other harnesses'
 * sweeps and prunes away from this harness's databases.
 */
async function openSession(sessionPool: DatabasePool): Promise<SessionHolder> {
  const { session, endSession } = await holdSession(sessionPool);
  try {
    await session.query(sql.unsafe`
      select set_config(name, '0', false) from pg_settings where name in ('idle_session_timeout', 'idle_in_transaction_session_timeout')`);
    await session.query(
      sql.unsafe`select pg_advisory_lock_shared(${PROJECT_LOCK_CLASS}::int, ${projectLockKey(project)}::int)`,
    );
  } catch (error) {
    await endSession().catch(() => undefined);
    throw error;
  }
  return { current: session, end: endSession, watch: undefined };
}

/**
 * Check the session every few seconds. A lost connection (a network drop, a server restart, an
 * administrator's pg_terminate_backend) takes the harness's locks with it: say so in the stats,
 * and take them again on a new connection.
 */
function watchSession(sessionPool: DatabasePool, holder: SessionHolder): void {
  let checking = false;
  holder.watch = setInterval(() => {
    if (checking || closing) return;
    checking = true;
    void (async () => {
      try {
        await holder.current.query(sql.unsafe`select 1`);
      } catch (error) {
        recordBackgroundFailure(
          new Error(
            `the harness's session connection was lost, and its locks with it (${error instanceof Error ? error.message : String(error)}); taking them again`,
            { cause: error },
          ),
        );
        await holder.end().catch(() => undefined);
        const renewed = await openSession(sessionPool).catch((reopen: unknown) => {
          recordBackgroundFailure(reopen);
          return null;
        });
        if (renewed !== null) {
          holder.current = renewed.current;
          holder.end = renewed.end;
        }
      } finally {
        checking = false;
      }
    })();
  }, SESSION_CHECK_MS).unref();
}

async function connect(url: string, size: number): Promise<DatabasePool> {
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
      `The test harness cannot connect to ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`,
      { url: redactUrl(url), sqlstate: findPgError(error)?.sqlstate ?? null },
      { cause: error },
    );
  }
}

/**
 * One connection held for the harness's lifetime: it carries the owner lock (so that other
 * harnesses see this one is alive) and polls the template build lock. Session-level advisory
 * locks must stay on one connection, never go through a pool.
 */
function holdSession(
  sessionPool: DatabasePool,
): Promise<{ session: DatabasePoolConnection; endSession: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const release = Promise.withResolvers<void>();
    const done = sessionPool.connect(async (session) => {
      await session.query(
        sql.unsafe`select pg_advisory_lock(${OWNER_LOCK_CLASS}::int, ${ownerId}::int)`,
      );
      resolve({
        session,
        endSession: async () => {
          release.resolve();
          await done;
        },
      });
      await release.promise;
      await session.query(sql.unsafe`select pg_advisory_unlock_all()`);
    });
    done.catch(reject);
  });
}

/** Drop clones whose owner (a harness in another thread or process) is gone without cleaning up. */
async function sweepAbandoned(started: Pick<Started, 'pool' | 'session'>): Promise<void> {
  const names = await started.pool.anyFirst(
    sql.type(datname)`select datname from pg_database where starts_with(datname, ${inUsePrefix})`,
  );
  const owners = new Map<number, string[]>();
  for (const name of names) {
    const owner = Number.parseInt(name.slice(inUsePrefix.length, inUsePrefix.length + 8), 16);
    if (!Number.isInteger(owner) || owner === ownerId) continue;
    owners.set(owner, [...(owners.get(owner) ?? []), name]);
  }
  for (const [owner, databases] of owners) {
    const free = await started.session.current.oneFirst(
      sql.type(
        z.object({ free: z.boolean() }),
      )`select pg_try_advisory_lock(${OWNER_LOCK_CLASS}::int, ${owner}::int) as free`,
    );
    if (!free) continue;
    await started.session.current.query(
      sql.unsafe`select pg_advisory_unlock(${OWNER_LOCK_CLASS}::int, ${owner}::int)`,
    );
    for (const name of databases) await dropDatabase(started.pool, name);
  }
}

/** The template's key: every migration's file name and checksum, and the version table options. */
async function templateKey(): Promise<{ key: string; count: number }> {
  const files = await discoverMigrations(options.dir);
  const hash = createHash('sha256').update(`${KEY_VERSION}\0${options.schema}\0${options.table}\0`);
  for (const file of files) hash.update(`${file.file}\0${file.checksum}\n`);
  return { key: hash.digest('hex').slice(0, 16), count: files.length };
}

type Base = Pick<Started, 'adminUrl' | 'pool' | 'session' | 'fileCopy'>;

async function isTemplateReady(pool: DatabasePool, name: string): Promise<boolean> {
  const row = await pool.maybeOne(
    sql.type(
      z.object({ ready: z.boolean() }),
    )`select datistemplate as ready from pg_database where datname = ${name}`,
  );
  return row?.ready === true;
}

/**
 * Find the template, or build it. The build runs under an advisory lock on the admin database,
 * so parallel test files (threads or processes) build it once; the others wait, then reuse it.
 */
async function ensureTemplate(base: Base): Promise<TemplateInfo> {
  const startedAt = performance.now();
  const { key, count } = await templateKey();
  const name = `offloop_tpl_${project}_${key}`;
  const info = (built: boolean, dropped: readonly string[]): TemplateInfo => ({
    name,
    key,
    built,
    dropped,
    migrations: count,
    durationMs: Math.round(performance.now() - startedAt),
    server: redactUrl(base.adminUrl),
  });
  if (await isTemplateReady(base.pool, name)) return info(false, []);

  const lockKey = Number.parseInt(key.slice(0, 8), 16) | 0;
  const deadline = Date.now() + options.buildTimeout;
  for (;;) {
    const locked = await base.session.current.oneFirst(
      sql.type(
        z.object({ locked: z.boolean() }),
      )`select pg_try_advisory_lock(${BUILD_LOCK_CLASS}::int, ${lockKey}::int) as locked`,
    );
    if (locked) break;
    if (Date.now() > deadline) {
      throw new LockTimeoutError(
        `Waited ${String(options.buildTimeout)} ms for another process to build the test template ${name}.`,
        {
          lockKey: `${String(BUILD_LOCK_CLASS)}:${String(lockKey)}`,
          waitedMs: options.buildTimeout,
          holderPid: null,
          holderApplication: null,
        },
      );
    }
    await sleep(POLL_MS);
  }
  try {
    if (await isTemplateReady(base.pool, name)) return info(false, []);
    // A build that crashed half-way left an unfinished template behind.
    await dropDatabase(base.pool, name);
    await createDatabase(base, name, 'template0');
    try {
      // Loaded only when a build is needed: most harnesses find the template ready.
      const { createMigrator } = await import('../migrator.ts');
      const migrator = createMigrator({
        url: databaseUrl(base.adminUrl, name),
        dir: options.dir,
        schema: options.schema,
        table: options.table,
      });
      try {
        await migrator.up();
      } finally {
        await migrator.close();
      }
      await disconnectAll(base.pool, name);
      // No one may connect to a template that is being cloned: CREATE DATABASE would fail.
      await base.pool.query(
        sql.unsafe`alter database ${sql.identifier([name])} with is_template true allow_connections false`,
      );
    } catch (error) {
      await dropDatabase(base.pool, name).catch((cleanup: unknown) => {
        throw new SuppressedError(cleanup, error, 'dropping the unfinished template failed too');
      });
      throw error;
    }
    return info(true, await dropStale(base.pool, name, `offloop_r_${project}_${key}_`));
  } finally {
    await base.session.current.query(
      sql.unsafe`select pg_advisory_unlock(${BUILD_LOCK_CLASS}::int, ${lockKey}::int)`,
    );
  }
}

/** Drop this project's templates and ready clones for other sets of migrations. */
async function dropStale(
  pool: DatabasePool,
  template: string,
  readyPrefix: string,
): Promise<string[]> {
  const stale = await pool.anyFirst(sql.type(datname)`
    select datname from pg_database
    where (starts_with(datname, ${`offloop_tpl_${project}_`}) and datname <> ${template})
       or (starts_with(datname, ${`offloop_r_${project}_`}) and not starts_with(datname, ${readyPrefix}))`);
  for (const name of stale) {
    if (name.startsWith('offloop_tpl_'))
      await pool.query(sql.unsafe`alter database ${sql.identifier([name])} with is_template false`);
    await dropDatabase(pool, name);
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
  for (let waited = 0; waited < 5_000; waited += 50) {
    if ((await count()) === 0) return;
    await sleep(50);
  }
  await pool.query(
    sql.unsafe`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`,
  );
}

async function createDatabase(
  base: { pool: DatabasePool; fileCopy: boolean },
  name: string,
  template: string,
): Promise<void> {
  const strategy =
    base.fileCopy && template !== 'template0' ? sql.fragment` strategy file_copy` : sql.fragment``;
  const started = performance.now();
  for (let attempt = 1; ; attempt += 1) {
    try {
      await base.pool.query(
        sql.unsafe`create database ${sql.identifier([name])} template ${sql.identifier([template])}${strategy}`,
      );
      stats.created += 1;
      stats.createMs += performance.now() - started;
      return;
    } catch (error) {
      const pg = findPgError(error);
      // 55006: another session is connected to the template. PostgreSQL already waited 5 s.
      if (pg?.sqlstate === '55006' && attempt < 3) continue;
      const reason = pg?.message ?? (error instanceof Error ? error.message : String(error));
      throw new CreateDatabaseError(
        `CREATE DATABASE ${name} (template ${template}) failed: ${reason}`,
        { database: name, template, sqlstate: pg?.sqlstate ?? null, reason },
        { cause: error },
      );
    }
  }
}

async function dropDatabase(pool: DatabasePool, name: string): Promise<void> {
  await pool.query(sql.unsafe`drop database if exists ${sql.identifier([name])} with (force)`);
  stats.dropped += 1;
}

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const randomSuffix = (): string => randomBytes(4).toString('hex');

/**
 * Take a ready clone from the shared pool by renaming it; null when there is none. One statement
 * (a `DO` block) on an already-open claim connection, never queued behind a `CREATE DATABASE`
 * (that runs on the background connections). Claimers skip clones another claimer is renaming (a
 * transaction-level advisory lock per name) rather than queue behind its lock on the database;
 * one renamed away since the scan (3D000) is skipped too.
 */
async function claimReady(s: Started): Promise<string | null> {
  const name = `${inUsePrefix}${ownerHex}_${randomSuffix()}`;
  const body = `declare d text;
begin
  for d in select datname from pg_database where starts_with(datname, ${quoteLiteral(s.readyPrefix)}) loop
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
    await s.claimPool.query(rawSql(`do ${quoteLiteral(body)}`));
    return name;
  } catch (error) {
    if (findPgError(error)?.sqlstate === 'P0002') return null;
    throw error;
  }
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A statement from SQL text built here (names are generated hex, literals quoted above). */
function rawSql(text: string): ReturnType<typeof sql.unsafe> {
  const template: TemplateStringsArray = Object.freeze(
    Object.assign([text], { raw: Object.freeze([text]) }),
  );
  return sql.unsafe(template);
}

/**
 * How many clones to keep ready: `poolSize`, or more when this project's suites have held more
 * databases at once (every harness, thread or process; remembered on the template across runs),
 * up to {@link MAX_LEARNED_POOL}. A suite's peak is what its next burst of tests will ask for.
 */
function poolTarget(): number {
  return options.poolSize === 0
    ? 0
    : Math.max(options.poolSize, Math.min(MAX_LEARNED_POOL, peakInUse));
}

/** Record a new peak of databases of this project in use at once (written on the template at close). */
function notePeak(used: number): void {
  peakInUse = Math.max(peakInUse, used);
}

/**
 * Remember the peak on the template for the next run (`COMMENT ON DATABASE`), so that its pool
 * starts at the size the suite needs. Best effort: a comment written at the same time by another
 * harness ("tuple concurrently updated") only loses a peak that one also saw.
 */
async function rememberPeak(s: Started): Promise<void> {
  if (peakInUse <= rememberedPeak && filePeak <= rememberedFilePeak) return;
  const comment = `offloop-testing peak=${String(Math.max(peakInUse, rememberedPeak))} file-peak=${String(Math.max(filePeak, rememberedFilePeak))}`;
  await s.pool
    .query(
      sql.unsafe`comment on database ${sql.identifier([s.template.name])} is ${sql.literalValue(comment)}`,
    )
    .catch(() => undefined);
}

/** Keep {@link poolTarget} clones ready (plus one for each caller waiting), `maxParallelCreates` at a time. */
function refill(s: Started): void {
  if (refilling) {
    refillAgain = true;
    return;
  }
  refilling = true;
  void (async () => {
    try {
      do {
        refillAgain = false;
        while (!closing && !refillPaused) {
          const counts = await s.backgroundPool.one(sql.type(
            z.object({ ready: z.coerce.number(), used: z.coerce.number() }),
          )`
            select (count(*) filter (where starts_with(datname, ${s.readyPrefix})))::int as ready,
                   (count(*) filter (where starts_with(datname, ${inUsePrefix})))::int as used
            from pg_database`);
          notePeak(counts.used);
          // Closed or paused while the count was read.
          if (closing || refillPaused) break;
          if (inFlight >= options.maxParallelCreates) break;
          if (counts.ready + inFlight >= poolTarget() + waiting) break;
          inFlight += 1;
          void createReady(s);
        }
      } while (refillAgain && !closing);
    } catch (error) {
      pauseRefill(s, error);
    } finally {
      refilling = false;
    }
  })();
}

/** Count a failure of background work, and keep its message for `stats()`. */
function recordBackgroundFailure(error: unknown): void {
  stats.backgroundFailures += 1;
  const pg = findPgError(error);
  stats.lastBackgroundError =
    pg !== null
      ? `${pg.sqlstate}: ${pg.message}`
      : error instanceof Error
        ? error.message
        : String(error);
}

/**
 * Stop refilling for a second after a failure, then try again (even if no test asks meanwhile).
 * The timer itself ends the pause: a timer may fire a little before `Date.now()` says a second
 * passed (timers run on the loop's cached clock), and a pause judged by the wall clock then
 * outlived the only call that would have resumed it, stalling the pool for good.
 */
function pauseRefill(s: Started, error: unknown): void {
  recordBackgroundFailure(error);
  if (refillPaused) return;
  refillPaused = true;
  setTimeout(() => {
    refillPaused = false;
    if (!closing) refill(s);
  }, 1_000).unref();
}

/**
 * How many clones to hold claimed ahead for this harness: what a test file has held at once
 * (remembered across runs) less what this one holds now, at least 1, at most {@link MAX_RESERVE};
 * none without a pool.
 */
function reserveTarget(): number {
  return options.poolSize === 0 ? 0 : Math.min(MAX_RESERVE, Math.max(1, filePeak - inUse.size));
}

/** Claim ready clones ahead for this harness (on every claim connection at once), and send them to the host thread. */
async function topUpReserve(s: Started): Promise<void> {
  await Promise.all(Array.from({ length: CLAIM_CONNECTIONS }, () => reserveLoop(s)));
}

async function reserveLoop(s: Started): Promise<void> {
  while (!closing && reserved.size + reserving < reserveTarget()) {
    const name = await reserveOne(s);
    if (name === null) return; // none ready (a finished background clone calls again), or closing
    port?.postMessage({
      type: 'reserved',
      database: { name, url: databaseUrl(s.adminUrl, name), fromPool: true },
    } satisfies PoolNotice);
    // The pool is one short now: make the next one.
    refill(s);
  }
}

/**
 * Claim one ready clone into {@link reserved}; null when none is ready or the harness is closing
 * (a clone claimed meanwhile goes back). Counted in `reserving` until settled, give-back
 * included: close() waits for it before it ends the connections.
 */
async function reserveOne(s: Started): Promise<string | null> {
  reserving += 1;
  try {
    const name = await claimReady(s).catch(() => null);
    if (name === null) return null;
    if (closing) {
      await giveBack(s, name).catch(() => undefined);
      return null;
    }
    reserved.add(name);
    return name;
  } finally {
    reserving -= 1;
  }
}

/** A reserved clone the host did not use goes back to the pool (no one connected to it). */
async function giveBack(s: Started, name: string): Promise<void> {
  try {
    await s.pool.query(
      sql.unsafe`alter database ${sql.identifier([name])} rename to ${sql.identifier([`${s.readyPrefix}${randomSuffix()}`])}`,
    );
  } catch {
    await dropDatabase(s.pool, name);
  }
}

/** The host handed a reserved clone to a test. */
async function taken(name: string): Promise<null> {
  const s = await start();
  if (!reserved.delete(name)) return null;
  inUse.add(name);
  filePeak = Math.max(filePeak, inUse.size);
  stats.acquired += 1;
  stats.fromPool += 1;
  refill(s);
  void topUpReserve(s).catch(() => undefined);
  return null;
}

async function createReady(s: Started): Promise<void> {
  try {
    await createDatabase(
      { pool: s.backgroundPool, fileCopy: s.fileCopy },
      `${s.readyPrefix}${randomSuffix()}`,
      s.template.name,
    );
  } catch (error) {
    // A background clone that fails is not fatal: the next acquire clones on demand and reports
    // the error itself. Pause refilling so that a persistent failure does not spin.
    pauseRefill(s, error);
  } finally {
    inFlight -= 1;
    const done = completion;
    completion = Promise.withResolvers<void>();
    done.resolve();
    if (!closing) {
      refill(s);
      void topUpReserve(s).catch(() => undefined);
    }
  }
}

async function acquire(): Promise<AcquiredDatabase> {
  const s = await start();
  let name: string | null = null;
  let fromPool = true;
  for (;;) {
    name = await claimReady(s);
    if (name !== null || closing) break;
    // A clone is already being made for every caller before this one: wait for the next one
    // rather than start another CREATE DATABASE. Otherwise clone on demand.
    if (waiting >= inFlight || options.poolSize === 0) break;
    waiting += 1;
    try {
      await completion.promise;
    } finally {
      waiting -= 1;
    }
  }
  if (name === null) {
    fromPool = false;
    name = `${inUsePrefix}${ownerHex}_${randomSuffix()}`;
    try {
      inUse.add(name);
      await createDatabase(s, name, s.template.name);
    } catch (error) {
      inUse.delete(name);
      throw error;
    }
  } else {
    inUse.add(name);
    stats.fromPool += 1;
  }
  stats.acquired += 1;
  filePeak = Math.max(filePeak, inUse.size);
  refill(s);
  return { name, url: databaseUrl(s.adminUrl, name), fromPool };
}

async function release(name: string): Promise<null> {
  const s = await start();
  if (!inUse.delete(name)) return null;
  await dropDatabase(s.pool, name);
  return null;
}

/**
 * Drop the templates and clones of every other project on the server that no running harness
 * uses (each harness holds its project's lock shared; this takes it exclusively, or skips the
 * project). A harness of such a project that starts meanwhile waits, then builds its template.
 */
async function prune(): Promise<PruneResult> {
  const s = await start();
  const names = await s.pool.anyFirst(sql.type(datname)`
    select datname from pg_database where datname ~ '^offloop_(tpl|r|u)_[0-9a-f]{8}_' order by datname`);
  const byProject = new Map<string, string[]>();
  for (const name of names) {
    const owner = name.split('_')[2] ?? '';
    if (owner !== project) byProject.set(owner, [...(byProject.get(owner) ?? []), name]);
  }
  const dropped: string[] = [];
  let projectsInUse = 0;
  for (const [other, databases] of byProject) {
    const key = projectLockKey(other);
    const free = await s.session.current.oneFirst(
      sql.type(
        z.object({ free: z.boolean() }),
      )`select pg_try_advisory_lock(${PROJECT_LOCK_CLASS}::int, ${key}::int) as free`,
    );
    if (!free) {
      projectsInUse += 1;
      continue;
    }
    try {
      for (const name of databases) {
        if (name.startsWith('offloop_tpl_'))
          await s.pool.query(
            sql.unsafe`alter database ${sql.identifier([name])} with is_template false`,
          );
        await dropDatabase(s.pool, name);
        dropped.push(name);
      }
    } finally {
      await s.session.current.query(
        sql.unsafe`select pg_advisory_unlock(${PROJECT_LOCK_CLASS}::int, ${key}::int)`,
      );
    }
  }
  return { dropped, projectsInUse };
}

async function close(): Promise<PoolStats> {
  closing = true;
  const current = started;
  if (current === undefined) return { ...stats };
  let s: Started;
  try {
    s = await current;
  } catch {
    return { ...stats };
  }
  while (inFlight > 0 || reserving > 0) await (reserving > 0 ? sleep(10) : completion.promise);
  try {
    await rememberPeak(s);
    for (const name of reserved) await giveBack(s, name);
    reserved.clear();
    for (const name of inUse) await dropDatabase(s.pool, name);
    inUse.clear();
  } finally {
    clearInterval(s.session.watch);
    // A session whose connection is gone has nothing left to unlock.
    await s.session.end().catch(() => undefined);
    await Promise.all([
      s.claimPool.end(),
      s.pool.end(),
      s.backgroundPool.end(),
      s.sessionPool.end(),
    ]);
  }
  return { ...stats };
}

async function handle(request: PoolRequest): Promise<PoolResults[PoolRequest['type']]> {
  switch (request.type) {
    case 'template':
      return (await start()).template;
    case 'acquire':
      return acquire();
    case 'release':
      return release(request.name);
    case 'taken':
      return taken(request.name);
    case 'stats':
      return { ...stats, createMs: Math.round(stats.createMs) };
    case 'prune':
      return prune();
    case 'close':
      return close();
  }
}

port.on('message', (request: PoolRequest) => {
  handle(request).then(
    (value) => port.postMessage({ id: request.id, ok: true, value } satisfies PoolResponse),
    (error: unknown) =>
      port.postMessage({
        id: request.id,
        ok: false,
        error: toEnvelope(error),
      } satisfies PoolResponse),
  );
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
