/** The backend pid behind a slonik connection, for cancels and the `migration:backend` event. */
import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';

/**
 * The backend pid per connection of one run: one round trip per connection, not per migration.
 * Keyed by slonik's `connectionId` (not part of its typed API: a connection without one is
 * looked up each time). One per run, so it holds at most the run's few connections.
 */
export class BackendPids {
  readonly #pids = new Map<string, number>();

  /** The backend pid of `connection`. */
  async of(connection: CommonQueryMethods): Promise<number> {
    const id = (connection as { connectionId?: unknown }).connectionId;
    const known = typeof id === 'string' ? this.#pids.get(id) : undefined;
    if (known !== undefined) return known;
    const pid = await connection.oneFirst(
      sql.type(z.object({ pid: z.number() }))`select pg_backend_pid() as pid`,
    );
    if (typeof id === 'string') this.#pids.set(id, pid);
    return pid;
  }
}
