/**
 * The test harness's clone pool, in its worker thread: it gets the template ready (see
 * `template.ts`), keeps clones of it ready on the server (`refill.ts`), hands them out, claims
 * some ahead for its host (`reserve.ts`), and drops what tests release. Everything that touches
 * PostgreSQL runs in this thread; the database names and locks are described in `names.ts`.
 */
import { randomInt } from 'node:crypto';
import { poll } from '@offloop/core';
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
import { endConnections, openConnections, type Connections } from './connections.ts';
import {
  claimReady,
  createDatabase,
  dropDatabase,
  recordBackgroundFailure,
  type Counters,
} from './databases.ts';
import { HarnessSession } from './harness-session.ts';
import { databaseUrl, inUsePrefix, randomSuffix, readyPrefix } from './names.ts';
import { Peaks } from './peaks.ts';
import { Refill } from './refill.ts';
import { Reserve } from './reserve.ts';
import { pruneOtherProjects, sweepAbandoned } from './sweep.ts';
import { ensureTemplate } from './template.ts';

/** The pool once started: its connections, its session, its template, and what fills it. */
type Started = {
  readonly connections: Connections;
  /** The session that holds this harness's locks; its connection is replaced if it is lost. */
  readonly session: HarnessSession;
  readonly fileCopy: boolean;
  readonly template: TemplateInfo;
  readonly readyPrefix: string;
  readonly refill: Refill;
  readonly reserve: Reserve;
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
  readonly #peaks = new Peaks();

  #started: Promise<Started> | undefined;
  #closing = false;
  readonly #inUse = new Set<string>();

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
      if (!s.refill.cloneComing || this.#options.poolSize === 0) break;
      await s.refill.awaitClone();
    }
    if (name === null) {
      fromPool = false;
      name = await this.#cloneOnDemand(s);
    } else {
      this.#inUse.add(name);
      this.#stats.fromPool += 1;
    }
    this.#stats.acquired += 1;
    this.#peaks.sawFile(this.#inUse.size);
    s.refill.run();
    return { name, url: databaseUrl(s.connections.adminUrl, name), fromPool };
  }

  async release(name: string): Promise<null> {
    const s = await this.#start();
    if (!this.#inUse.delete(name)) return null;
    await dropDatabase(s.connections.pool, this.#stats, name);
    return null;
  }

  async taken(name: string): Promise<null> {
    const s = await this.#start();
    if (!s.reserve.take(name)) return null;
    this.#inUse.add(name);
    this.#peaks.sawFile(this.#inUse.size);
    this.#stats.acquired += 1;
    this.#stats.fromPool += 1;
    s.refill.run();
    void s.reserve.topUp().catch(() => undefined);
    return null;
  }

  stats(): Promise<PoolStats> {
    return Promise.resolve({ ...this.#stats, createMs: Math.round(this.#stats.createMs) });
  }

  /** Drop the templates and clones of every other project that no running harness uses. */
  async prune(): Promise<PruneResult> {
    const s = await this.#start();
    const site = { pool: s.connections.pool, session: s.session, stats: this.#stats };
    return pruneOtherProjects(site, this.#project);
  }

  async close(): Promise<PoolStats> {
    this.#closing = true;
    const current = this.#started;
    if (current === undefined) return { ...this.#stats };
    let s: Started;
    try {
      s = await current;
    } catch {
      return { ...this.#stats };
    }
    // A claim settles in a few ms and has nothing to wait on; a clone in flight has.
    await poll(
      async () => {
        if (!s.reserve.claiming && s.refill.inFlight > 0) await s.refill.nextClone();
        return s.refill.inFlight === 0 && !s.reserve.claiming;
      },
      { until: (idle) => idle, intervalMs: 10 },
    );
    try {
      await this.#peaks.remember(s.connections.pool, s.template.name);
      await s.reserve.giveBackAll();
      for (const name of this.#inUse) await dropDatabase(s.connections.pool, this.#stats, name);
      this.#inUse.clear();
    } finally {
      // A session whose connection is gone has nothing left to unlock.
      await s.session.end().catch(() => undefined);
      await endConnections(s.connections);
    }
    return { ...this.#stats };
  }

  #start(): Promise<Started> {
    this.#started ??= this.#startUp();
    return this.#started;
  }

  /** Connect, take the session's locks, sweep, get the template ready, then start filling. */
  async #startUp(): Promise<Started> {
    const connections = await openConnections(this.#options);
    try {
      // Before anything of the project is read: a prune that holds the project waits no one out.
      const session = await HarnessSession.open(
        connections.sessionPool,
        this.#ownerId,
        this.#project,
      );
      session.watch(
        () => this.#closing,
        (error) => {
          recordBackgroundFailure(this.#stats, error);
        },
      );
      const fileCopy = await this.#usesFileCopy(connections.pool);
      const site = { pool: connections.pool, session, stats: this.#stats };
      await sweepAbandoned(site, this.#inUsePrefix, this.#ownerId);
      const template = await ensureTemplate({
        ...site,
        adminUrl: connections.adminUrl,
        fileCopy,
        project: this.#project,
        options: this.#options,
      });
      await this.#peaks.load(connections.pool, template.name);
      return await this.#fill({ connections, session, fileCopy, template });
    } catch (error) {
      await endConnections(connections);
      throw error;
    }
  }

  /** Clone with `STRATEGY FILE_COPY` (PostgreSQL 15 and later) unless told to WAL-log. */
  async #usesFileCopy(pool: DatabasePool): Promise<boolean> {
    const version = await pool.oneFirst(
      sql.type(
        z.object({ v: z.coerce.number() }),
      )`select current_setting('server_version_num')::int as v`,
    );
    return version >= 150_000 && this.#options.strategy !== 'wal_log';
  }

  /**
   * The refill and the reserve of the started pool. Top the pool up at once, while the test file
   * loads, not at the first claim; claim this file's reserve from what is ready (part of the
   * setup: ready() waits for it).
   */
  async #fill(
    base: Pick<Started, 'connections' | 'session' | 'fileCopy' | 'template'>,
  ): Promise<Started> {
    const prefix = readyPrefix(this.#project, base.template.key);
    const isClosing = () => this.#closing;
    const shared = { connections: base.connections, readyPrefix: prefix, stats: this.#stats };
    // The refill tells the reserve of each clone it makes, the reserve the refill of each it takes.
    const refill: Refill = new Refill({
      ...shared,
      fileCopy: base.fileCopy,
      template: base.template.name,
      inUsePrefix: this.#inUsePrefix,
      options: this.#options,
      peaks: this.#peaks,
      isClosing,
      onCloneSettled: () => void reserve.topUp().catch(() => undefined),
    });
    const reserve: Reserve = new Reserve({
      ...shared,
      target: () => this.#peaks.reserveTarget(this.#options.poolSize, this.#inUse.size),
      isClosing,
      claim: () => this.#claim({ connections: base.connections, readyPrefix: prefix }),
      send: this.#sendReserved,
      refill: () => {
        refill.run();
      },
    });
    if (this.#options.poolSize > 0) {
      refill.run();
      await reserve.topUp();
    }
    return { ...base, readyPrefix: prefix, refill, reserve };
  }

  /** Clone the template under a new in-use name, for a caller no ready clone was left for. */
  async #cloneOnDemand(s: Started): Promise<string> {
    const name = this.#newInUseName();
    try {
      this.#inUse.add(name);
      await createDatabase(
        { pool: s.connections.pool, fileCopy: s.fileCopy },
        this.#stats,
        name,
        s.template.name,
      );
    } catch (error) {
      this.#inUse.delete(name);
      throw error;
    }
    return name;
  }

  #newInUseName(): string {
    return `${this.#inUsePrefix}${this.#ownerHex}_${randomSuffix()}`;
  }

  /** Claim a ready clone under a new in-use name; null when none is ready. */
  async #claim(s: Pick<Started, 'connections' | 'readyPrefix'>): Promise<string | null> {
    const name = this.#newInUseName();
    return (await claimReady(s.connections.claimPool, s.readyPrefix, name)) ? name : null;
  }
}
