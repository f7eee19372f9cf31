/**
 * The test harness's clone pool, in its worker thread: it gets the template ready (see
 * `template.ts`), keeps clones of it ready on the server, hands them out, claims some ahead for its
 * host, and drops what tests release. Everything that touches PostgreSQL runs in this thread; the
 * database names and locks are described in `names.ts`.
 */
import { findPgError } from '@offloop/core/engine';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type DatabasePool } from 'slonik';
import { z } from 'zod';
import type {
  AcquiredDatabase,
  PoolMethods,
  PoolStats,
  PoolWorkerOptions,
  PruneResult,
  TemplateInfo,
} from '../protocol.ts';
import { projectId } from '../project.ts';
import { ensureSharedServer } from '../server/shared-server.ts';
import {
  claimReady,
  connect,
  createDatabase,
  datname,
  dropDatabase,
  type Counters,
} from './databases.ts';
import {
  databaseUrl,
  inUsePrefix,
  OWNER_LOCK_CLASS,
  PROJECT_LOCK_CLASS,
  projectLockKey,
  randomSuffix,
  readyPrefix,
} from './names.ts';
import { HarnessSession } from './harness-session.ts';
import { ensureTemplate } from './template.ts';

/** Upper bound of the pool size learnt from past peaks (disk: one template's size per clone). */
const MAX_LEARNED_POOL = 32;
/** Upper bound of the reserve claimed ahead for one harness. */
const MAX_RESERVE = 16;
/** Connections kept open for claims (a file's tests ask at once; a claim takes a few ms). */
const CLAIM_CONNECTIONS = 4;

/** The pool once started: its connections, its session and its template. */
type Ready = {
  readonly adminUrl: string;
  /** Claims only: connections opened at start-up, so a claim is one statement on an open connection. */
  readonly claimPool: DatabasePool;
  /** On-demand clones and drops. */
  readonly pool: DatabasePool;
  /** Background clones, so that a slow CREATE DATABASE never holds up a claim. */
  readonly backgroundPool: DatabasePool;
  readonly sessionPool: DatabasePool;
  /** The session that holds this harness's locks; its connection is replaced if it is lost. */
  readonly session: HarnessSession;
  readonly fileCopy: boolean;
  readonly template: TemplateInfo;
  readonly readyPrefix: string;
};

/** One harness's clone pool: every piece of its state, and the calls its host makes. */
export class ClonePool implements PoolMethods {
  readonly #options: PoolWorkerOptions;
  /** Sends a clone claimed ahead to the host; resolves once the host has it. */
  readonly #sendReserved: (database: AcquiredDatabase) => Promise<void>;
  readonly #project: string;
  /** This harness's id, held as the owner lock while it lives. */
  readonly #ownerId = randomInt(1, 2 ** 31 - 1);
  readonly #ownerHex = this.#ownerId.toString(16).padStart(8, '0');
  readonly #inUsePrefix: string;
  readonly #stats: Counters = {
    acquired: 0,
    fromPool: 0,
    created: 0,
    createMs: 0,
    dropped: 0,
    backgroundFailures: 0,
    lastBackgroundError: null,
  };

  #started: Promise<Ready> | undefined;
  #closing = false;
  readonly #inUse = new Set<string>();
  /** Background clones being created. */
  #inFlight = 0;
  /** Callers of {@link acquire} waiting for a background clone. */
  #waiting = 0;
  #refilling = false;
  #refillAgain = false;
  /** Set after a background failure; cleared by the timer that resumes the refill. */
  #refillPaused = false;
  /** Most databases of this project in use at once, seen by this harness or remembered on the template. */
  #peakInUse = 0;
  #rememberedPeak = 0;
  /** Most databases this harness (one test file) has handed out at once, or remembered from past runs. */
  #filePeak = 0;
  #rememberedFilePeak = 0;
  /**
   * Clones claimed ahead for this harness (renamed to its in-use names) and sent to the host
   * thread, which hands them out without a round trip. Given back to the pool at close if unused.
   */
  readonly #reserved = new Set<string>();
  #reserving = 0;
  /** Resolved (and replaced) each time a background clone finishes. */
  #completion = Promise.withResolvers<void>();

  constructor(
    options: PoolWorkerOptions,
    sendReserved: (database: AcquiredDatabase) => Promise<void>,
  ) {
    this.#options = options;
    this.#sendReserved = sendReserved;
    this.#project = projectId(options.dir);
    this.#inUsePrefix = inUsePrefix(this.#project);
  }

  async template(): Promise<TemplateInfo> {
    return (await this.#start()).template;
  }

  async acquire(): Promise<AcquiredDatabase> {
    const s = await this.#start();
    let name: string | null = null;
    let fromPool = true;
    for (;;) {
      name = await this.#claim(s);
      if (name !== null || this.#closing) break;
      // A clone is already being made for every caller before this one: wait for the next one
      // rather than start another CREATE DATABASE. Otherwise clone on demand.
      if (this.#waiting >= this.#inFlight || this.#options.poolSize === 0) break;
      this.#waiting += 1;
      try {
        await this.#completion.promise;
      } finally {
        this.#waiting -= 1;
      }
    }
    if (name === null) {
      fromPool = false;
      name = this.#newInUseName();
      try {
        this.#inUse.add(name);
        await createDatabase(s, this.#stats, name, s.template.name);
      } catch (error) {
        this.#inUse.delete(name);
        throw error;
      }
    } else {
      this.#inUse.add(name);
      this.#stats.fromPool += 1;
    }
    this.#stats.acquired += 1;
    this.#filePeak = Math.max(this.#filePeak, this.#inUse.size);
    this.#refill(s);
    return { name, url: databaseUrl(s.adminUrl, name), fromPool };
  }

  async release(name: string): Promise<null> {
    const s = await this.#start();
    if (!this.#inUse.delete(name)) return null;
    await dropDatabase(s.pool, this.#stats, name);
    return null;
  }

  async taken(name: string): Promise<null> {
    const s = await this.#start();
    if (!this.#reserved.delete(name)) return null;
    this.#inUse.add(name);
    this.#filePeak = Math.max(this.#filePeak, this.#inUse.size);
    this.#stats.acquired += 1;
    this.#stats.fromPool += 1;
    this.#refill(s);
    void this.#topUpReserve(s).catch(() => undefined);
    return null;
  }

  stats(): Promise<PoolStats> {
    return Promise.resolve({ ...this.#stats, createMs: Math.round(this.#stats.createMs) });
  }

  /**
   * Drop the templates and clones of every other project on the server that no running harness
   * uses (each harness holds its project's lock shared; this takes it exclusively, or skips the
   * project). A harness of such a project that starts meanwhile waits, then builds its template.
   */
  async prune(): Promise<PruneResult> {
    const s = await this.#start();
    const names = await s.pool.anyFirst(sql.type(datname)`
      select datname from pg_database where datname ~ '^offloop_(tpl|r|u)_[0-9a-f]{8}_' order by datname`);
    const byProject = new Map<string, string[]>();
    for (const name of names) {
      const owner = name.split('_')[2] ?? '';
      if (owner !== this.#project) byProject.set(owner, [...(byProject.get(owner) ?? []), name]);
    }
    const dropped: string[] = [];
    let projectsInUse = 0;
    for (const [other, databases] of byProject) {
      const key = projectLockKey(other);
      const free = await s.session.connection.oneFirst(
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
          await dropDatabase(s.pool, this.#stats, name);
          dropped.push(name);
        }
      } finally {
        await s.session.connection.query(
          sql.unsafe`select pg_advisory_unlock(${PROJECT_LOCK_CLASS}::int, ${key}::int)`,
        );
      }
    }
    return { dropped, projectsInUse };
  }

  async close(): Promise<PoolStats> {
    this.#closing = true;
    const current = this.#started;
    if (current === undefined) return { ...this.#stats };
    let s: Ready;
    try {
      s = await current;
    } catch {
      return { ...this.#stats };
    }
    while (this.#inFlight > 0 || this.#reserving > 0)
      await (this.#reserving > 0 ? sleep(10) : this.#completion.promise);
    try {
      await this.#rememberPeak(s);
      for (const name of this.#reserved) await this.#giveBack(s, name);
      this.#reserved.clear();
      for (const name of this.#inUse) await dropDatabase(s.pool, this.#stats, name);
      this.#inUse.clear();
    } finally {
      // A session whose connection is gone has nothing left to unlock.
      await s.session.end().catch(() => undefined);
      await Promise.all([
        s.claimPool.end(),
        s.pool.end(),
        s.backgroundPool.end(),
        s.sessionPool.end(),
      ]);
    }
    return { ...this.#stats };
  }

  #start(): Promise<Ready> {
    this.#started ??= this.#startUp();
    return this.#started;
  }

  async #startUp(): Promise<Ready> {
    const { adminUrl, pool } = await this.#connectAdmin();
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
      const backgroundPool = await connect(adminUrl, this.#options.maxParallelCreates + 1);
      pools.push(backgroundPool);
      // Before anything of the project is read: a prune that holds the project waits no one out.
      const session = await HarnessSession.open(sessionPool, this.#ownerId, this.#project);
      session.watch(
        () => this.#closing,
        (error) => this.#recordBackgroundFailure(error),
      );
      const version = await pool.oneFirst(
        sql.type(
          z.object({ v: z.coerce.number() }),
        )`select current_setting('server_version_num')::int as v`,
      );
      const fileCopy = version >= 150_000 && this.#options.strategy !== 'wal_log';
      const base = { adminUrl, claimPool, pool, backgroundPool, sessionPool, session, fileCopy };
      await this.#sweepAbandoned(pool, session);
      const template = await ensureTemplate({
        adminUrl,
        pool,
        session,
        fileCopy,
        stats: this.#stats,
        project: this.#project,
        options: this.#options,
      });
      const comment = await pool.maybeOneFirst(sql.type(
        z.object({ comment: z.string().nullable() }),
      )`
        select shobj_description(oid, 'pg_database') as comment from pg_database where datname = ${template.name}`);
      this.#rememberedPeak = Number(/\bpeak=(\d+)/.exec(comment ?? '')?.[1] ?? 0);
      this.#rememberedFilePeak = Number(/\bfile-peak=(\d+)/.exec(comment ?? '')?.[1] ?? 0);
      this.#peakInUse = this.#rememberedPeak;
      this.#filePeak = this.#rememberedFilePeak;
      const ready: Ready = {
        ...base,
        template,
        readyPrefix: readyPrefix(this.#project, template.key),
      };
      // Top the pool up at once, while the test file loads, not at the first claim; claim this
      // file's reserve from what is ready (part of the setup: ready() waits for it).
      if (this.#options.poolSize > 0) {
        this.#refill(ready);
        await this.#topUpReserve(ready);
      }
      return ready;
    } catch (error) {
      await Promise.all(pools.map((each) => each.end()));
      throw error;
    }
  }

  /** The admin connections: to the given URL, or to the shared embedded server. */
  async #connectAdmin(): Promise<{ adminUrl: string; pool: DatabasePool }> {
    if (this.#options.url !== null)
      return { adminUrl: this.#options.url, pool: await connect(this.#options.url, 8) };
    // The shared server may stop for idleness between finding it and connecting: look again.
    for (let attempt = 1; ; attempt += 1) {
      const adminUrl = await ensureSharedServer({
        dir: this.#options.embeddedDir,
        idleTimeout: this.#options.embeddedIdleTimeout,
      });
      try {
        return { adminUrl, pool: await connect(adminUrl, 8) };
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  }

  /** Drop clones whose owner (a harness in another thread or process) is gone without cleaning up. */
  async #sweepAbandoned(pool: DatabasePool, session: HarnessSession): Promise<void> {
    const prefix = this.#inUsePrefix;
    const names = await pool.anyFirst(
      sql.type(datname)`select datname from pg_database where starts_with(datname, ${prefix})`,
    );
    const owners = new Map<number, string[]>();
    for (const name of names) {
      const owner = Number.parseInt(name.slice(prefix.length, prefix.length + 8), 16);
      if (!Number.isInteger(owner) || owner === this.#ownerId) continue;
      owners.set(owner, [...(owners.get(owner) ?? []), name]);
    }
    for (const [owner, databases] of owners) {
      const free = await session.connection.oneFirst(
        sql.type(
          z.object({ free: z.boolean() }),
        )`select pg_try_advisory_lock(${OWNER_LOCK_CLASS}::int, ${owner}::int) as free`,
      );
      if (!free) continue;
      await session.connection.query(
        sql.unsafe`select pg_advisory_unlock(${OWNER_LOCK_CLASS}::int, ${owner}::int)`,
      );
      for (const name of databases) await dropDatabase(pool, this.#stats, name);
    }
  }

  #newInUseName(): string {
    return `${this.#inUsePrefix}${this.#ownerHex}_${randomSuffix()}`;
  }

  /** Claim a ready clone under a new in-use name; null when none is ready. */
  async #claim(s: Ready): Promise<string | null> {
    const name = this.#newInUseName();
    return (await claimReady(s.claimPool, s.readyPrefix, name)) ? name : null;
  }

  /**
   * How many clones to keep ready: `poolSize`, or more when this project's suites have held more
   * databases at once (every harness, thread or process; remembered on the template across runs),
   * up to {@link MAX_LEARNED_POOL}. A suite's peak is what its next burst of tests will ask for.
   */
  #poolTarget(): number {
    return this.#options.poolSize === 0
      ? 0
      : Math.max(this.#options.poolSize, Math.min(MAX_LEARNED_POOL, this.#peakInUse));
  }

  /**
   * Remember the peak on the template for the next run (`COMMENT ON DATABASE`), so that its pool
   * starts at the size the suite needs. Best effort: a comment written at the same time by another
   * harness ("tuple concurrently updated") only loses a peak that one also saw.
   */
  async #rememberPeak(s: Ready): Promise<void> {
    if (this.#peakInUse <= this.#rememberedPeak && this.#filePeak <= this.#rememberedFilePeak)
      return;
    const comment = `offloop-testing peak=${String(Math.max(this.#peakInUse, this.#rememberedPeak))} file-peak=${String(Math.max(this.#filePeak, this.#rememberedFilePeak))}`;
    await s.pool
      .query(
        sql.unsafe`comment on database ${sql.identifier([s.template.name])} is ${sql.literalValue(comment)}`,
      )
      .catch(() => undefined);
  }

  /** Keep {@link #poolTarget} clones ready (plus one for each caller waiting), `maxParallelCreates` at a time. */
  #refill(s: Ready): void {
    if (this.#refilling) {
      this.#refillAgain = true;
      return;
    }
    this.#refilling = true;
    void (async () => {
      try {
        do {
          this.#refillAgain = false;
          while (!this.#closing && !this.#refillPaused) {
            const counts = await s.backgroundPool.one(sql.type(
              z.object({ ready: z.coerce.number(), used: z.coerce.number() }),
            )`
              select (count(*) filter (where starts_with(datname, ${s.readyPrefix})))::int as ready,
                     (count(*) filter (where starts_with(datname, ${this.#inUsePrefix})))::int as used
              from pg_database`);
            this.#peakInUse = Math.max(this.#peakInUse, counts.used);
            // Closed or paused while the count was read.
            if (this.#closing || this.#refillPaused) break;
            if (this.#inFlight >= this.#options.maxParallelCreates) break;
            if (counts.ready + this.#inFlight >= this.#poolTarget() + this.#waiting) break;
            this.#inFlight += 1;
            void this.#createReady(s);
          }
        } while (this.#refillAgain && !this.#closing);
      } catch (error) {
        this.#pauseRefill(s, error);
      } finally {
        this.#refilling = false;
      }
    })();
  }

  /** Count a failure of background work, and keep its message for `stats()`. */
  #recordBackgroundFailure(error: unknown): void {
    this.#stats.backgroundFailures += 1;
    const pg = findPgError(error);
    this.#stats.lastBackgroundError =
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
  #pauseRefill(s: Ready, error: unknown): void {
    this.#recordBackgroundFailure(error);
    if (this.#refillPaused) return;
    this.#refillPaused = true;
    setTimeout(() => {
      this.#refillPaused = false;
      if (!this.#closing) this.#refill(s);
    }, 1_000).unref();
  }

  async #createReady(s: Ready): Promise<void> {
    try {
      await createDatabase(
        { pool: s.backgroundPool, fileCopy: s.fileCopy },
        this.#stats,
        `${s.readyPrefix}${randomSuffix()}`,
        s.template.name,
      );
    } catch (error) {
      // A background clone that fails is not fatal: the next acquire clones on demand and reports
      // the error itself. Pause refilling so that a persistent failure does not spin.
      this.#pauseRefill(s, error);
    } finally {
      this.#inFlight -= 1;
      const done = this.#completion;
      this.#completion = Promise.withResolvers<void>();
      done.resolve();
      if (!this.#closing) {
        this.#refill(s);
        void this.#topUpReserve(s).catch(() => undefined);
      }
    }
  }

  /**
   * How many clones to hold claimed ahead for this harness: what a test file has held at once
   * (remembered across runs) less what this one holds now, at least 1, at most {@link MAX_RESERVE};
   * none without a pool.
   */
  #reserveTarget(): number {
    return this.#options.poolSize === 0
      ? 0
      : Math.min(MAX_RESERVE, Math.max(1, this.#filePeak - this.#inUse.size));
  }

  /** Claim ready clones ahead for this harness (on every claim connection at once), and send them to the host thread. */
  async #topUpReserve(s: Ready): Promise<void> {
    await Promise.all(Array.from({ length: CLAIM_CONNECTIONS }, () => this.#reserveLoop(s)));
  }

  async #reserveLoop(s: Ready): Promise<void> {
    while (!this.#closing && this.#reserved.size + this.#reserving < this.#reserveTarget()) {
      const name = await this.#reserveOne(s);
      if (name === null) return; // none ready (a finished background clone calls again), or closing
      // Delivered before anything else answers: ready() resolves with the reserve in the host.
      await this.#sendReserved({ name, url: databaseUrl(s.adminUrl, name), fromPool: true });
      // The pool is one short now: make the next one.
      this.#refill(s);
    }
  }

  /**
   * Claim one ready clone into {@link #reserved}; null when none is ready or the harness is
   * closing (a clone claimed meanwhile goes back). Counted in `#reserving` until settled,
   * give-back included: close() waits for it before it ends the connections.
   */
  async #reserveOne(s: Ready): Promise<string | null> {
    this.#reserving += 1;
    try {
      const name = await this.#claim(s).catch(() => null);
      if (name === null) return null;
      if (this.#closing) {
        await this.#giveBack(s, name).catch(() => undefined);
        return null;
      }
      this.#reserved.add(name);
      return name;
    } finally {
      this.#reserving -= 1;
    }
  }

  /** A reserved clone the host did not use goes back to the pool (no one connected to it). */
  async #giveBack(s: Ready, name: string): Promise<void> {
    try {
      await s.pool.query(
        sql.unsafe`alter database ${sql.identifier([name])} rename to ${sql.identifier([`${s.readyPrefix}${randomSuffix()}`])}`,
      );
    } catch {
      await dropDatabase(s.pool, this.#stats, name);
    }
  }
}
