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
import {
  MigrationOptionError,
  MigrationOptionUnsupportedError,
  MissingUpError,
} from './errors.ts';
import type { SectionOptions, SqlSection } from './migration.ts';
import { lineColumnAt } from './source-position.ts';

const MARKER = /^--\s*migrate:(up|down)\b(.*)$/gm;

/** Options a marker line may carry, and whether this version implements them. */
const KNOWN_OPTIONS = { transaction: { values: ['true', 'false'], supported: (value: string) => value === 'true' } } as const;

/** Split a SQL migration into its sections and validate their marker options. */
export function parseSqlMigration(file: string, source: string): { up: SqlSection; down: SqlSection | null } {
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
      throw new MigrationOptionError(`${file}:${line}: a second -- migrate:${marker.direction} marker; each section may appear once.`, {
        file, line, column, option: `migrate:${marker.direction}`, known: [],
      });
    }
    sections[marker.direction] = { sql: source.slice(marker.bodyStart, end), offset: marker.bodyStart, options: marker.options };
  });

  if (sections.up === undefined) {
    throw new MissingUpError(`${file} has no "-- migrate:up" section. Start the file with a line "-- migrate:up", and put rollback SQL after "-- migrate:down".`, { file });
  }
  return { up: sections.up, down: sections.down ?? null };
}

function parseOptions(file: string, source: string, markerStart: number, text: string): SectionOptions {
  const options: { transaction: boolean } = { transaction: true };
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const { line, column } = lineColumnAt(source, markerStart + source.slice(markerStart).indexOf(token));
    const [key = '', value] = token.split(':', 2);
    const known = Object.keys(KNOWN_OPTIONS);
    if (!(key in KNOWN_OPTIONS)) {
      throw new MigrationOptionError(`${file}:${line}:${column}: unknown migration option "${key}". Known options: ${known.map((name) => `${name}:true|false`).join(', ')}.`, {
        file, line, column, option: key, known,
      });
    }
    const spec = KNOWN_OPTIONS[key as keyof typeof KNOWN_OPTIONS];
    if (value === undefined || !(spec.values as readonly string[]).includes(value)) {
      throw new MigrationOptionError(`${file}:${line}:${column}: option "${key}" takes ${spec.values.join(' or ')}, got "${value ?? ''}".`, {
        file, line, column, option: key, known,
      });
    }
    if (!spec.supported(value)) {
      throw new MigrationOptionUnsupportedError(
        `${file}:${line}:${column}: "${token}" is not supported yet: this version of offloop runs every migration in a transaction. Remove the option, or split the non-transactional statement into its own migration once non-transactional migrations land.`,
        { file, line, column, option: token },
      );
    }
    options.transaction = value === 'true';
  }
  return options;
}
