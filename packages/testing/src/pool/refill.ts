/**
 * The pool's refill: keeps clones of the template ready on the server, created in the background
 * (`maxParallelCreates` at a time, on their own connections), and pauses after a failure so that
 * a persistent one does not spin.
 */
import { sql } from 'slonik';
import { z } from 'zod';
import type { PoolWorkerOptions } from '../protocol.ts';
import type { Connections } from './connections.ts';
import { createDatabase, recordBackgroundFailure, type Counters } from './databases.ts';
import { randomSuffix } from './names.ts';
import type { Peaks } from './peaks.ts';

/** What the refill works on, and whom it tells. */
export type RefillSite = {
  readonly connections: Pick<Connections, 'backgroundPool'>;
  readonly fileCopy: boolean;
  /** The template the clones are made of. */
  readonly template: string;
  /** The prefix of its ready clones. */
  readonly readyPrefix: string;
  /** The prefix of this project's clones in use (counted for the peak). */
  readonly inUsePrefix: string;
  readonly options: Pick<PoolWorkerOptions, 'poolSize' | 'maxParallelCreates'>;
  readonly stats: Counters;
  readonly peaks: Peaks;
  readonly isClosing: () => boolean;
  /** A background clone is ready (or failed) and the harness is not closing: the reserve may take it. */
  readonly onCloneSettled: () => void;
};

/** The background clones of one harness: how many are on their way, and who waits for them. */
export class Refill {
  readonly #site: RefillSite;
  /** Background clones being created. */
  #inFlight = 0;
  /** Callers of `acquire` waiting for a background clone. */
  #waiting = 0;
  #running = false;
  #again = false;
  /** Set after a background failure; cleared by the timer that resumes the refill. */
  #paused = false;
  /** Resolved (and replaced) each time a background clone finishes. */
  #completion = Promise.withResolvers<void>();

  constructor(site: RefillSite) {
    this.#site = site;
  }

  /** Background clones being created. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** True when a clone is already being made for every caller waiting: one more should wait too. */
  get cloneComing(): boolean {
    return this.#waiting < this.#inFlight;
  }

  /** Wait, as a caller of `acquire`, for the next background clone (counted meanwhile in what to make). */
  async awaitClone(): Promise<void> {
    this.#waiting += 1;
    try {
      await this.#completion.promise;
    } finally {
      this.#waiting -= 1;
    }
  }

  /** Resolves when the next background clone finishes. */
  nextClone(): Promise<void> {
    return this.#completion.promise;
  }

  /** Keep the pool's target of clones ready (plus one for each caller waiting), `maxParallelCreates` at a time. */
  run(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    void (async () => {
      try {
        do {
          this.#again = false;
          await this.#startClones();
        } while (this.#again && !this.#site.isClosing());
      } catch (error) {
        this.#pause(error);
      } finally {
        this.#running = false;
      }
    })();
  }

  /** Start background clones until enough are ready or on their way. */
  async #startClones(): Promise<void> {
    const { connections, readyPrefix, inUsePrefix, options, peaks, isClosing } = this.#site;
    while (!isClosing() && !this.#paused) {
      const counts = await connections.backgroundPool.one(sql.type(
        z.object({ ready: z.coerce.number(), used: z.coerce.number() }),
      )`
              select (count(*) filter (where starts_with(datname, ${readyPrefix})))::int as ready,
                     (count(*) filter (where starts_with(datname, ${inUsePrefix})))::int as used
              from pg_database`);
      peaks.sawInUse(counts.used);
      // Closed or paused while the count was read.
      if (isClosing() || this.#paused) break;
      if (this.#inFlight >= options.maxParallelCreates) break;
      if (counts.ready + this.#inFlight >= peaks.poolTarget(options.poolSize) + this.#waiting)
        break;
      this.#inFlight += 1;
      void this.#createReady();
    }
  }

  /**
   * Stop refilling for a second after a failure, then try again (even if no test asks meanwhile).
   * The timer itself ends the pause: a timer may fire a little before `Date.now()` says a second
   * passed (timers run on the loop's cached clock), and a pause judged by the wall clock then
   * outlived the only call that would have resumed it, stalling the pool for good.
   */
  #pause(error: unknown): void {
    recordBackgroundFailure(this.#site.stats, error);
    if (this.#paused) return;
    this.#paused = true;
    setTimeout(() => {
      this.#paused = false;
      if (!this.#site.isClosing()) this.run();
    }, 1_000).unref();
  }

  async #createReady(): Promise<void> {
    const { connections, fileCopy, readyPrefix, template, stats } = this.#site;
    try {
      await createDatabase(
        { pool: connections.backgroundPool, fileCopy },
        stats,
        `${readyPrefix}${randomSuffix()}`,
        template,
      );
    } catch (error) {
      // A background clone that fails is not fatal: the next acquire clones on demand and reports
      // the error itself. Pause refilling so that a persistent failure does not spin.
      this.#pause(error);
    } finally {
      this.#inFlight -= 1;
      const done = this.#completion;
      this.#completion = Promise.withResolvers<void>();
      done.resolve();
      if (!this.#site.isClosing()) {
        this.run();
        this.#site.onCloneSettled();
      }
    }
  }
}
