/**
 * The reserve: ready clones claimed ahead for this harness (renamed to its in-use names) and sent
 * to the host thread, which hands them out without a round trip. Given back to the pool at close
 * if unused.
 */
import { sql } from 'slonik';
import type { AcquiredDatabase } from '../protocol.ts';
import { CLAIM_CONNECTIONS, type Connections } from './connections.ts';
import { dropDatabase, type Counters } from './databases.ts';
import { databaseUrl, randomSuffix } from './names.ts';

/** What the reserve works on, and whom it tells. */
export type ReserveSite = {
  readonly connections: Pick<Connections, 'adminUrl' | 'pool'>;
  /** The prefix of the ready clones, the name a clone given back takes. */
  readonly readyPrefix: string;
  readonly stats: Counters;
  /** How many clones to hold now. */
  readonly target: () => number;
  readonly isClosing: () => boolean;
  /** Claim a ready clone under a new in-use name; null when none is ready. */
  readonly claim: () => Promise<string | null>;
  /** Send a clone to the host; resolves once the host has it. */
  readonly send: (database: AcquiredDatabase) => Promise<void>;
  /** The pool is one short: make the next one. */
  readonly refill: () => void;
};

/** The clones claimed ahead for one harness. */
export class Reserve {
  readonly #site: ReserveSite;
  readonly #reserved = new Set<string>();
  /** Claims (give-back included) not yet settled: close() waits for them before it ends the connections. */
  #reserving = 0;

  constructor(site: ReserveSite) {
    this.#site = site;
  }

  /** True while a claim is not settled. */
  get claiming(): boolean {
    return this.#reserving > 0;
  }

  /** The host handed out `name`: true when it was in the reserve (it is in use now). */
  take(name: string): boolean {
    return this.#reserved.delete(name);
  }

  /** Claim ready clones ahead for this harness (on every claim connection at once), and send them to the host thread. */
  async topUp(): Promise<void> {
    await Promise.all(Array.from({ length: CLAIM_CONNECTIONS }, () => this.#reserveLoop()));
  }

  /** Give every clone the host did not hand out back to the pool. */
  async giveBackAll(): Promise<void> {
    for (const name of this.#reserved) await this.#giveBack(name);
    this.#reserved.clear();
  }

  async #reserveLoop(): Promise<void> {
    const { connections, isClosing, target, send, refill } = this.#site;
    while (!isClosing() && this.#reserved.size + this.#reserving < target()) {
      const name = await this.#reserveOne();
      if (name === null) return; // none ready (a finished background clone calls again), or closing
      // Delivered before anything else answers: ready() resolves with the reserve in the host.
      await send({ name, url: databaseUrl(connections.adminUrl, name), fromPool: true });
      // The pool is one short now: make the next one.
      refill();
    }
  }

  /**
   * Claim one ready clone into the reserve; null when none is ready or the harness is closing (a
   * clone claimed meanwhile goes back). Counted in `#reserving` until settled, give-back included.
   */
  async #reserveOne(): Promise<string | null> {
    this.#reserving += 1;
    try {
      const name = await this.#site.claim().catch(() => null);
      if (name === null) return null;
      if (this.#site.isClosing()) {
        await this.#giveBack(name).catch(() => undefined);
        return null;
      }
      this.#reserved.add(name);
      return name;
    } finally {
      this.#reserving -= 1;
    }
  }

  /** A reserved clone the host did not use goes back to the pool (no one connected to it). */
  async #giveBack(name: string): Promise<void> {
    const { connections, readyPrefix, stats } = this.#site;
    try {
      await connections.pool.query(
        sql.unsafe`alter database ${sql.identifier([name])}
          rename to ${sql.identifier([`${readyPrefix}${randomSuffix()}`])}`,
      );
    } catch {
      await dropDatabase(connections.pool, stats, name);
    }
  }
}
