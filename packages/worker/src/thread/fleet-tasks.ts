/**
 * A fleet's tasks besides each target's run (which is an ordinary `up`, `worker-entry.ts`): the
 * scan of a database and the query that lists targets. Piscina calls them by name. Like every
 * task, they never throw: failures come back as envelopes.
 */
import { toEnvelope } from '@offloop/core';
import {
  discoverMigrations,
  keepConnection,
  raw,
  scanSchemas,
  sql,
  takeConnection,
  withConnection,
  withDatabaseErrors,
  type ScanResult,
} from '@offloop/core/engine';
import type { ScanRequest, TargetRow, TargetsQueryRequest, TaskResponse } from '../protocol.ts';

/** Where each selected schema of one database stands (see core's `engine/fleet/scan.ts`). */
export async function scan(request: ScanRequest): Promise<TaskResponse<ScanResult>> {
  try {
    const files = discoverMigrations(request.dir);
    files.catch(() => undefined);
    // A kept connection: a second scan of the same database (the next deploy's no-op, a server's
    // status) finds the ledgers' relations in its catalog cache, about half the time.
    const settings = {
      url: request.url,
      connectTimeout: request.connectTimeout,
      statementTimeout: 0,
      searchPath: null,
    };
    const db = takeConnection(settings);
    let scanned = false;
    try {
      const value = await withDatabaseErrors(request, async () =>
        scanSchemas(db, request.table, request.selection, await files),
      );
      scanned = true;
      return { ok: true, value };
    } finally {
      await keepConnection(settings, db, scanned ? request.keepMs : 0);
    }
  } catch (error) {
    return { ok: false, error: toEnvelope(error) };
  }
}

/** The rows of a fleet's `targetsQuery`: its `url` and `schema` columns, as text. */
export async function targetsQuery(
  request: TargetsQueryRequest,
): Promise<TaskResponse<TargetRow[]>> {
  try {
    const value = await withDatabaseErrors(request, () =>
      withConnection(request.url, request.connectTimeout, async (db) => {
        // The user's query, as given: it runs on their control database, with their rights.
        const query = raw(request.query.replace(/;\s*$/, ''));
        const rows = await db.rows<{ url?: unknown; schema?: unknown }>(
          sql`select * from (${query}) as targets`,
        );
        return rows.map((row) => ({
          url: typeof row.url === 'string' ? row.url : '',
          schema: typeof row.schema === 'string' ? row.schema : null,
        }));
      }),
    );
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: toEnvelope(error) };
  }
}
