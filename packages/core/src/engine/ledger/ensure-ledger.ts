/** Making the run's ledger (its schema, version table and log table) when it is missing. */
import { logTableDdl, versionTableDdl, type VersionTable } from '../../sql/ddl.ts';
import type { Db } from '../db/db.ts';
import { raw } from '../db/sql.ts';
import { ensureLogColumns } from './log-table.ts';
import { ensureSchema, type LedgerTables } from './version-table.ts';

/**
 * Create what is missing of the ledger, as `known` (read under the same lock) says: its schema
 * (see {@link ensureSchema}), then the version table and the log table in one round trip. A log
 * table made by an older offloop gets its missing columns (`ensureLogColumns`).
 */
export async function ensureLedger(
  connection: Db,
  versionTable: VersionTable,
  known: LedgerTables,
): Promise<void> {
  if (!known.schema) await ensureSchema(connection, versionTable.schema);
  const missing = [
    ...(known.versionTable ? [] : [versionTableDdl(versionTable)]),
    ...(known.logTable ? [] : [logTableDdl(versionTable)]),
  ];
  if (missing.length > 0) await connection.run(raw(missing.join(';\n')));
  if (known.logTable) await ensureLogColumns(connection, versionTable);
}
