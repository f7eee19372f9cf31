/**
 * SQL text built from a migration: the statements that record it in the version and log tables,
 * and a whole transactional migration as one script. The offline script (`offline.ts`) and the
 * batched apply (`engine/apply/batched.ts`) send the same text, so what a DBA reviews is what runs.
 */
import { logTableName, quoteLiteral, versionTableName, type VersionTable } from './ddl.ts';
import type { MigrationFile } from '../model/migration.ts';
import type { Statement } from '../model/prepared.ts';

/** A statement with its terminating semicolon, kept out of a trailing line comment. */
export function terminate(statement: string): string {
  const lastLine = statement.slice(statement.lastIndexOf('\n') + 1);
  return lastLine.includes('--') ? `${statement}\n;` : `${statement};`;
}

/** How the recording statements fill `applied_by` and `duration_ms`. */
export type RecordValues = {
  /** `null`: `current_user`. */
  readonly appliedBy: string | null;
  /**
   * `'zero'` for a script run by hand (0 in the version table, none in the log); `'measured'` for the server-side time since the query
   * message arrived (`statement_timestamp()`), which is the whole migration when it is sent as
   * one query. Measured once: the log row gets the version row's value, and the last statement
   * returns it (one row, one column), so that what the run reports is what was stored.
   */
  readonly duration: 'zero' | 'measured';
  /** The attempts it took (see `LogEntry.attempts`); left out of a script run by hand. */
  readonly attempts?: number | undefined;
};

/** The version-table change and log entry of a successful migration, as SQL statements. */
export function recordStatements(
  versionTable: VersionTable,
  migration: MigrationFile,
  direction: 'up' | 'down',
  values: RecordValues,
): string[] {
  const version = quoteLiteral(migration.version);
  const name = quoteLiteral(migration.name);
  const checksum = quoteLiteral(migration.checksum);
  const appliedBy = values.appliedBy === null ? 'current_user' : quoteLiteral(values.appliedBy);
  const measured =
    'round(extract(epoch from clock_timestamp() - statement_timestamp()) * 1000)::int';
  const duration = values.duration === 'zero' ? '0' : measured;
  const logDuration =
    values.duration === 'zero'
      ? 'null'
      : direction === 'up'
        ? `(select duration_ms from ${versionTableName(versionTable)} where version = ${version})`
        : measured;
  const returning = values.duration === 'zero' ? '' : ' returning duration_ms';
  const [attemptsColumn, attempts] =
    values.attempts === undefined ? ['', ''] : [', attempts', `, ${values.attempts}`];
  return [
    direction === 'up'
      ? `insert into ${versionTableName(versionTable)} (version, name, checksum, ` +
        `duration_ms, applied_by) values (${version}, ${name}, ${checksum}, ${duration}, ` +
        `${appliedBy});`
      : `delete from ${versionTableName(versionTable)} where version = ${version};`,
    `insert into ${logTableName(versionTable)} (version, name, direction, ` +
      `checksum, outcome, applied_by, duration_ms${attemptsColumn}) values (${version}, ` +
      `${name}, ${quoteLiteral(direction)}, ${checksum}, 'succeeded', ${appliedBy}, ` +
      `${logDuration}${attempts})${returning};`,
  ];
}

/** A transactional migration as one script, and where each of its statements starts in it. */
export type TransactionScript = {
  readonly text: string;
  /** Statements that complete before the migration's first one (`begin`, the settings). */
  readonly before: number;
  /** 0-based character offset of each migration statement in `text`. */
  readonly starts: readonly number[];
};

/** `begin`, `set local` settings, the statements, the recording statements, `commit`. */
export function transactionScript(
  statements: readonly Statement[],
  settings: readonly string[],
  record: readonly string[],
): TransactionScript {
  const head = ['begin;', ...settings.map((setting) => `set local ${setting};`)];
  let text = `${head.join('\n')}\n`;
  const starts: number[] = [];
  for (const statement of statements) {
    starts.push(text.length);
    text += `${terminate(statement.sql)}\n`;
  }
  text += `${[...record, 'commit;'].join('\n')}\n`;
  return { text, before: head.length, starts };
}
