/**
 * A fleet's tasks besides each target's run (which is an ordinary `up`, `worker-entry.ts`): the
 * scan of a database and the query that lists targets. Piscina calls them by name. Like every
 * task, they never throw: failures come back as envelopes.
 */
import { toEnvelope } from '@offloop/core';
import {
  discoverMigrations,
  raw,
  scanSchemas,
  sql,
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
    const value = await withDatabaseErrors(request, () =>
      withConnection(request.url, request.connectTimeout, async (db) =>
        scanSchemas(db, request.table, request.selection, await files),
      ),
    );
    return { ok: true, value };
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
