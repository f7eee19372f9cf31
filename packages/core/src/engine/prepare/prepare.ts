/**
 * Preparing migrations for a direction: SQL split (and so syntax-checked) with PostgreSQL's
 * parser, modules imported, and every check of `plan/checks.ts` that needs them. Nothing runs.
 */
import type { MigrationFile } from '../../model/migration.ts';
import type { Prepared } from '../../model/prepared.ts';
import { assertDownSteps, assertTransactional, assertUpWritten } from '../../plan/checks.ts';
import type { Emit } from '../session.ts';
import { loadParser } from '../parse/parser.ts';
import { loadMigrationModule } from './module-migration.ts';
import { splitSection } from './split.ts';

/**
 * Check and prepare migrations for a direction: parse SQL, import modules, refuse misfits. Going
 * up, a SQL file's down section is checked too: once the file is applied, fixing it takes an
 * edit and `repair`.
 */
export async function prepareAll(
  migrations: readonly MigrationFile[],
  direction: 'up' | 'down',
  emit?: Emit,
): Promise<Prepared[]> {
  // The parser (WASM) loads only when something is to run: a no-op never pays for it.
  if (migrations.length > 0) await loadParser();
  const missingDown: { version: string; file: string }[] = [];
  const prepared: Prepared[] = [];
  for (const migration of migrations) {
    if (migration.kind === 'sql') {
      const section = direction === 'up' ? migration.up : migration.down;
      const statements = section === null ? [] : splitSection(migration, section);
      // An empty down section (as `offloop create` writes it) reverts nothing: reverting the
      // migration would only forget it, and the next `up` would trip over what it left.
      if (section === null || (direction === 'down' && statements.length === 0)) {
        missingDown.push({ version: migration.version, file: migration.file });
        continue;
      }
      if (direction === 'up') assertUpWritten(migration, statements);
      if (section.options.transaction) assertTransactional(migration, direction, statements);
      if (direction === 'up' && migration.down !== null && migration.down.options.transaction) {
        assertTransactional(migration, 'down', splitSection(migration, migration.down));
      }
      prepared.push({ migration, direction, options: section.options, statements });
    } else {
      await emit?.({ type: 'migration:loading', version: migration.version, file: migration.file });
      const module = await loadMigrationModule(migration);
      const run = direction === 'up' ? module.up : module.down;
      if (run === undefined) {
        missingDown.push({ version: migration.version, file: migration.file });
        continue;
      }
      prepared.push({ migration, direction, options: module.options, run });
    }
  }
  assertDownSteps(missingDown);
  return prepared;
}
