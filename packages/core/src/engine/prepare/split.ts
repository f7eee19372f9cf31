/**
 * Splitting SQL into statements with PostgreSQL's own parser (`parse/parser.ts`).
 *
 * Every pending file is split (and so syntax-checked) before anything runs. The split gives each
 * statement's place in its file (for errors), the statements that cannot run in a transaction,
 * and the boundaries the batched apply needs to tell which statement failed (`db/work-connection.ts`); the
 * statement-by-statement path (non-transactional migrations, `singleTransaction`) sends them one
 * per query, as slonik's extended protocol requires.
 */
import { SqlSyntaxError } from '../../errors/index.ts';
import type { SqlMigrationFile, SqlSection } from '../../model/migration.ts';
import { charIndexOfByte, lineColumnAt } from '../../files/source-position.ts';
import type { Statement } from '../../model/prepared.ts';
import { messageOf } from '../../util/as-error.ts';
import { Memo } from '../../util/memo.ts';
import { parseStatements, type ParsedStatement } from '../parse/parser.ts';

export type { Statement };

/** Characters of the text the parser quotes (`at or near "..."`) that a message keeps. */
const NEAR_TEXT_LIMIT = 60;

/**
 * The parser's message with the text it quotes cut short: for an unterminated string or comment
 * it quotes everything to the end of the file, megabytes of it in one message.
 */
function boundNearText(message: string): string {
  const match = /^([\s\S]*? at or near ")([\s\S]*)"$/.exec(message);
  const [, head = '', near = ''] = match ?? [];
  if (match === null || near.length <= NEAR_TEXT_LIMIT) return message;
  return `${head}${near.slice(0, NEAR_TEXT_LIMIT).replace(/[\uD800-\uDBFF]$/, '')}…"`;
}

/**
 * Split a section of a SQL migration into statements. Throws {@link SqlSyntaxError} with the
 * file, line and column of the first syntax error. Call `loadParser` (`parse/parser.ts`) first.
 */
export function splitSection(migration: SqlMigrationFile, section: SqlSection): Statement[] {
  // Linting and preparing a run both split each pending section, and a fleet's thread prepares
  // the same files for every target: parsed once per content (positions come from the whole
  // source, so it is the key, with the section's place in it).
  return splits.get(`${section.offset}:${migration.source}`, () => split(migration, section));
}

/** Sections already split, by content: a large history's worth per thread. */
const splits = new Memo<Statement[]>(20_000);

function split(migration: SqlMigrationFile, section: SqlSection): Statement[] {
  let parsed: ParsedStatement[];
  try {
    parsed = parseStatements(section.sql);
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number; message?: string } })
      .sqlDetails;
    // The parser's cursor is a 0-based character offset into the text it was given.
    const offset = section.offset + Math.max(0, details?.cursorPosition ?? 0);
    const { line, column } = lineColumnAt(migration.source, offset);
    const reason = boundNearText(details?.message ?? messageOf(error));
    // A syntax error's details say all the parser said, bounded; its own message may quote the
    // rest of the file (megabytes, printed again as the cause). Anything else is kept as the cause.
    throw new SqlSyntaxError(
      `${migration.file}:${line}:${column}: ${reason}. Nothing was run.`,
      {
        file: migration.file,
        line,
        column,
        version: migration.version,
        reason,
      },
      details?.message === undefined ? { cause: error } : undefined,
    );
  }

  const bytes = Buffer.from(section.sql, 'utf8');
  return parsed.map(({ location, length, kind, node }) => {
    // Statement locations and lengths count UTF-8 bytes; a length of 0 means "to the end".
    const end = length === 0 ? bytes.length : location + length;
    const sql = bytes.subarray(location, end).toString('utf8').trimEnd();
    const offset = section.offset + charIndexOfByte(section.sql, location);
    const { line, column } = lineColumnAt(migration.source, offset);
    return { sql, offset, line, column, kind, node };
  });
}
