/**
 * Offline SQL: the exact script `up` or `down` would run, version-table statements and
 * transaction boundaries included, for a DBA to review or run with
 * `psql -v ON_ERROR_STOP=1 -f script.sql`. It writes nothing and takes no lock.
 */
import type { ResolvedConfig } from '../config/config.ts';
import {
  logTableDdl,
  quoteIdentifier,
  searchPathFor,
  versionTableDdl,
  versionTableOf,
} from './ddl.ts';
import type { Prepared } from '../model/prepared.ts';
import { count } from '../util/count.ts';
import { searchPathSetting, timeoutSettings } from './settings.ts';
import { recordStatements, terminate, transactionScript } from './script.ts';

/** Render the script for `items` (all SQL migrations), in order. */
export function renderScript(
  config: ResolvedConfig,
  items: readonly Prepared[],
  header: { direction: 'up' | 'down'; from: string | null; to: string | null },
): string {
  const lines: string[] = [
    `-- offloop ${header.direction}: from ${header.from ?? 'base'} to ` +
      `${header.to ?? 'base'}, ${count(items.length, 'migration')}`,
    `-- Generated ${new Date().toISOString()}. Run with: psql -v ON_ERROR_STOP=1 -f <this file>`,
    '',
  ];
  const versionTable = versionTableOf(config);
  if (header.direction === 'up') {
    // The schema migrations run in, then the ledger's (the same one unless migrationsSchema).
    const schemas = new Set([config.schema, versionTable.schema]);
    lines.push(
      ...[...schemas].map((schema) => `create schema if not exists ${quoteIdentifier(schema)};`),
      `${versionTableDdl(versionTable)};`,
      `${logTableDdl(versionTable)};`,
      '',
    );
  }
  // For the whole psql session, as the engine sets it for its work sessions.
  lines.push(`set ${searchPathSetting(searchPathFor(config.schema))};`, '');
  for (const item of items) {
    if (!('statements' in item)) continue;
    const { migration, direction, options } = item;
    // Only a marker-line lock_timeout: the configured one is the first attempt of retries that
    // psql cannot make (docs/locking.md), and would only fail the script under contention.
    const settings = timeoutSettings(config, options, undefined, options.lockTimeout);
    const record = recordStatements(versionTable, migration, direction, {
      appliedBy: null,
      duration: 'zero',
    });
    lines.push(
      `-- ${migration.file} (${direction}${options.transaction ? '' : ', transaction:false'})`,
    );
    if (options.transaction) {
      lines.push(transactionScript(item.statements, settings, record).text);
    } else {
      lines.push(...settings.map((setting) => `set ${setting};`));
      lines.push(...item.statements.map((statement) => terminate(statement.sql)));
      if (settings.length > 0) lines.push('reset lock_timeout;', 'reset statement_timeout;');
      lines.push('begin;', ...record, 'commit;', '');
    }
  }
  return `${lines.join('\n')}\n`;
}
