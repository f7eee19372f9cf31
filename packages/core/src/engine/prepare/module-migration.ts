/** Loading JavaScript/TypeScript migrations. Only ever called inside the worker thread. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../../config/duration.ts';
import { MigrationModuleError } from '../../errors/index.ts';
import type { MigrationModule } from '../../model/migration-context.ts';
import type { ModuleMigrationFile } from '../../model/migration.ts';
import { messageOf } from '../../util/as-error.ts';
import { moduleSystemHint } from './module-system-hint.ts';

/** CommonJS's module cache, which `import()` of a `.cjs`/`.cts` file (or a CommonJS `.js`) goes through. */
const commonJsCache = createRequire(import.meta.url).cache;

/**
 * Import a migration module and check its shape. The checksum goes into the URL so an edited
 * file is imported afresh by a long-lived worker instead of coming from the module cache.
 * CommonJS migrations (`.cjs`, `.cts`, a `.js` under `"type": "commonjs"`) export through
 * `module.exports`/`exports.up`.
 */
export async function loadMigrationModule(
  migration: ModuleMigrationFile,
): Promise<MigrationModule> {
  let loaded: Record<string, unknown>;
  try {
    // CommonJS caches by file name, whatever the URL's query: drop the entry, or an edited file
    // would run as it was when first loaded.
    Reflect.deleteProperty(commonJsCache, migration.path);
    const namespace = (await import(
      `${pathToFileURL(migration.path).href}?checksum=${migration.checksum}`
    )) as Record<string, unknown>;
    // Node names only the exports it finds by static analysis of CommonJS source (not
    // `module.exports = { up, lockTimeout: '5s' }`'s second key): read the exports object itself.
    loaded = 'module.exports' in namespace ? asRecord(namespace['module.exports']) : namespace;
  } catch (cause) {
    const reason = messageOf(cause);
    // The error and its code stay the same; the hint says which package.json made Node take the
    // file for the other module system, and what to rename it to.
    const hint = await moduleSystemHint(migration, cause);
    throw new MigrationModuleError(
      `${migration.file} failed to load: ${reason}${hint}`,
      { file: migration.file, reason },
      { cause },
    );
  }
  if (typeof loaded.up !== 'function') {
    throw new MigrationModuleError(
      `${migration.file} must export a function \`up(ctx)\` (and optionally \`down(ctx)\`).`,
      { file: migration.file, reason: 'no up export' },
    );
  }
  if (loaded.down !== undefined && typeof loaded.down !== 'function') {
    throw new MigrationModuleError(
      `${migration.file} exports \`down\`, but it is not a function.`,
      { file: migration.file, reason: 'down is not a function' },
    );
  }
  const invalid = (reason: string): never => {
    throw new MigrationModuleError(`${migration.file}: ${reason}`, {
      file: migration.file,
      reason,
    });
  };
  if (loaded.transaction !== undefined && typeof loaded.transaction !== 'boolean')
    invalid('`export const transaction` must be true or false.');
  if (loaded.serial !== undefined && typeof loaded.serial !== 'boolean')
    invalid('`export const serial` must be true or false.');
  const duration = (name: 'lockTimeout' | 'statementTimeout'): number | null => {
    if (loaded[name] === undefined) return null;
    const ms = parseDuration(loaded[name]);
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0)
      invalid(
        `\`export const ${name}\` must be a duration such as '5s' or a number of milliseconds.`,
      );
    return ms as number;
  };
  const lockRetries = loaded.lockRetries;
  if (
    lockRetries !== undefined &&
    !(typeof lockRetries === 'number' && Number.isInteger(lockRetries) && lockRetries >= 0)
  )
    invalid('`export const lockRetries` must be a whole number of retries (0: none).');
  return {
    up: loaded.up as MigrationModule['up'],
    down: loaded.down as MigrationModule['down'],
    options: {
      transaction: loaded.transaction !== false,
      lockTimeout: duration('lockTimeout'),
      statementTimeout: duration('statementTimeout'),
      lockRetries: lockRetries === undefined ? null : (lockRetries as number),
      serial: loaded.serial === true,
    },
  };
}

function asRecord(value: unknown): Record<string, unknown> {
  return (typeof value === 'object' && value !== null) || typeof value === 'function'
    ? (value as Record<string, unknown>)
    : {};
}
