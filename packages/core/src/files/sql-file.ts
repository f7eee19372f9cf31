/**
 * dbmate-compatible SQL migration files:
 *
 * ```sql
 * -- migrate:up transaction:false
 * create index concurrently ...;
 *
 * -- migrate:down
 * drop index ...;
 * ```
 *
 * Options sit on the marker line as `key:value`. Unknown options are errors, never ignored.
 */
import { parseDuration } from '../config/duration.ts';
import { MigrationOptionError, MissingUpError } from '../errors/index.ts';
import type { SectionOptions, SqlSection } from '../model/migration.ts';
import { lineColumnAt } from './source-position.ts';

const MARKER = /^--\s*migrate:(up|down)\b(.*)$/gm;

/**
 * Options a marker line may carry: `transaction:false lock_timeout:5s statement_timeout:10m
 * lock_retries:0`.
 */
const KNOWN_OPTIONS = [
  'transaction',
  'lock_timeout',
  'statement_timeout',
  'lock_retries',
  'serial',
] as const;

/** Split a SQL migration into its sections and validate their marker options. */
export function parseSqlMigration(
  file: string,
  source: string,
): { up: SqlSection; down: SqlSection | null } {
  const markers = [...source.matchAll(MARKER)].map((match) => ({
    direction: match[1] as 'up' | 'down',
    start: match.index,
    bodyStart: match.index + match[0].length,
    options: parseOptions(file, source, match.index, match[2] ?? ''),
  }));

  const sections: { up?: SqlSection; down?: SqlSection } = {};
  markers.forEach((marker, index) => {
    const end = markers[index + 1]?.start ?? source.length;
    if (sections[marker.direction] !== undefined) {
      const { line, column } = lineColumnAt(source, marker.start);
      throw new MigrationOptionError(
        `${file}:${line}: a second -- migrate:${marker.direction} marker; each ` +
          'section may appear once.',
        {
          file,
          line,
          column,
          option: `migrate:${marker.direction}`,
          known: [],
        },
      );
    }
    sections[marker.direction] = {
      sql: source.slice(marker.bodyStart, end),
      offset: marker.bodyStart,
      options: marker.options,
    };
  });

  if (sections.up === undefined) {
    throw new MissingUpError(
      `${file} has no "-- migrate:up" section. Start the file with a line ` +
        '"-- migrate:up", and put rollback SQL after "-- migrate:down".',
      { file },
    );
  }
  return { up: sections.up, down: sections.down ?? null };
}

function parseOptions(
  file: string,
  source: string,
  markerStart: number,
  text: string,
): SectionOptions {
  const options: {
    transaction: boolean;
    lockTimeout: number | null;
    statementTimeout: number | null;
    lockRetries: number | null;
    serial: boolean;
  } = {
    transaction: true,
    lockTimeout: null,
    statementTimeout: null,
    lockRetries: null,
    serial: false,
  };
  const known = [...KNOWN_OPTIONS];
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const { line, column } = lineColumnAt(
      source,
      markerStart + source.slice(markerStart).indexOf(token),
    );
    const separator = token.indexOf(':');
    const key = separator === -1 ? token : token.slice(0, separator);
    const value = separator === -1 ? undefined : token.slice(separator + 1);
    const fail = (message: string): never => {
      throw new MigrationOptionError(`${file}:${line}:${column}: ${message}`, {
        file,
        line,
        column,
        option: key,
        known,
      });
    };
    switch (key) {
      case 'transaction':
      case 'serial':
        if (value !== 'true' && value !== 'false')
          fail(`option "${key}" takes true or false, got "${value ?? ''}".`);
        options[key] = value === 'true';
        break;
      case 'lock_timeout':
      case 'statement_timeout': {
        const ms = parseDuration(value);
        if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0)
          fail(`option "${key}" takes a duration such as 500ms, 5s or 10m, got "${value ?? ''}".`);
        if (key === 'lock_timeout') options.lockTimeout = ms as number;
        else options.statementTimeout = ms as number;
        break;
      }
      case 'lock_retries':
        if (value === undefined || !/^\d{1,4}$/.test(value))
          fail(
            `option "lock_retries" takes a number of retries such as 0 or 5, got "${value ?? ''}".`,
          );
        options.lockRetries = Number(value);
        break;
      default:
        fail(
          `unknown migration option "${key}". Known options: ` +
            'transaction:true|false, lock_timeout:<duration>, statement_timeout:<duration>, ' +
            'lock_retries:<n>, serial:true|false.',
        );
    }
  }
  return options;
}
