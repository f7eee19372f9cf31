/** Loading JavaScript/TypeScript migrations. Only ever called inside the worker thread. */
import { pathToFileURL } from 'node:url';
import { MigrationModuleError, MigrationOptionUnsupportedError } from './errors.ts';
import type { MigrationModule } from './context.ts';
import type { ModuleMigrationFile } from './migration.ts';

/**
 * Import a migration module and check its shape. The checksum goes into the URL so an edited
 * file is imported afresh by a long-lived worker instead of coming from the module cache.
 */
export async function loadMigrationModule(migration: ModuleMigrationFile): Promise<MigrationModule> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(`${pathToFileURL(migration.path).href}?checksum=${migration.checksum}`)) as Record<string, unknown>;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new MigrationModuleError(`${migration.file} failed to load: ${reason}`, { file: migration.file, reason }, { cause });
  }
  if (typeof loaded.up !== 'function') {
    throw new MigrationModuleError(`${migration.file} must export a function \`up(ctx)\` (and optionally \`down(ctx)\`).`, { file: migration.file, reason: 'no up export' });
  }
  if (loaded.down !== undefined && typeof loaded.down !== 'function') {
    throw new MigrationModuleError(`${migration.file} exports \`down\`, but it is not a function.`, { file: migration.file, reason: 'down is not a function' });
  }
  if (loaded.transaction !== undefined && loaded.transaction !== true) {
    throw new MigrationOptionUnsupportedError(
      `${migration.file}: \`export const transaction = ${JSON.stringify(loaded.transaction) ?? 'undefined'}\` is not supported yet: this version of offloop runs every migration in a transaction.`,
      { file: migration.file, line: 1, column: 1, option: 'transaction' },
    );
  }
  return loaded as unknown as MigrationModule;
}
