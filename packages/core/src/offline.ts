/**
 * Offline SQL: the exact script `up` or `down` would run, version-table statements and
 * transaction boundaries included, for a DBA to review or run with
 * `psql -v ON_ERROR_STOP=1 -f script.sql`. It writes nothing and takes no lock.
 */
import type { ResolvedConfig } from './config.ts';
import { logTableDdl, logTableName, quoteIdentifier, quoteLiteral, versionTableDdl, versionTableName } from './ddl.ts';
import type { Prepared } from './apply.ts';
import { timeoutSettings } from './apply.ts';

function terminate(statement: string): string {
  // A statement may end in a line comment; the semicolon must not land inside it.
  const lastLine = statement.slice(statement.lastIndexOf('\n') + 1);
  return lastLine.includes('--') ? `${statement}\n;` : `${statement};`;
}

/** Render the script for `items` (all SQL migrations), in order. */
export function renderScript(config: ResolvedConfig, items: readonly Prepared[], header: { direction: 'up' | 'down'; from: string | null; to: string | null }): string {
  const lines: string[] = [
    `-- offloop ${header.direction}: from ${header.from ?? 'base'} to ${header.to ?? 'base'}, ${items.length} migration${items.length === 1 ? '' : 's'}`,
    `-- Generated ${new Date().toISOString()}. Run with: psql -v ON_ERROR_STOP=1 -f <this file>`,
    '',
  ];
  if (header.direction === 'up') {
    lines.push(`create schema if not exists ${quoteIdentifier(config.schema)};`, `${versionTableDdl(config)};`, `${logTableDdl(config)};`, '');
  }
  const versionTable = versionTableName(config);
  const logTable = logTableName(config);
  for (const item of items) {
    if (!('statements' in item)) continue;
    const { migration, direction, options } = item;
    const settings = timeoutSettings(config, options);
    const record = [
      direction === 'up'
        ? `insert into ${versionTable} (version, name, checksum, duration_ms, applied_by) values (${quoteLiteral(migration.version)}, ${quoteLiteral(migration.name)}, ${quoteLiteral(migration.checksum)}, 0, current_user);`
        : `delete from ${versionTable} where version = ${quoteLiteral(migration.version)};`,
      `insert into ${logTable} (version, name, direction, checksum, outcome, applied_by) values (${quoteLiteral(migration.version)}, ${quoteLiteral(migration.name)}, ${quoteLiteral(direction)}, ${quoteLiteral(migration.checksum)}, 'succeeded', current_user);`,
    ];
    lines.push(`-- ${migration.file} (${direction}${options.transaction ? '' : ', transaction:false'})`);
    if (options.transaction) {
      lines.push('begin;', ...settings.map((setting) => `set local ${setting};`));
      lines.push(...item.statements.map((statement) => terminate(statement.sql)), ...record, 'commit;', '');
    } else {
      lines.push(...settings.map((setting) => `set ${setting};`));
      lines.push(...item.statements.map((statement) => terminate(statement.sql)));
      if (settings.length > 0) lines.push('reset lock_timeout;', 'reset statement_timeout;');
      lines.push('begin;', ...record, 'commit;', '');
    }
  }
  return `${lines.join('\n')}\n`;
}
