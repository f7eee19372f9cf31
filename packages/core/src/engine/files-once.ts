/**
 * The migration files of a fleet's run, read once per thread: every target of one `up` call
 * applies the same directory, so the thread lists and checks it for the first of them and hands
 * the same files to the rest. A key names the call; without one, each run reads the files (as a
 * single `up` always does, so that an edit between two calls is never missed).
 */
import { discoverMigrations } from '../files/discover.ts';
import type { MigrationFile } from '../model/migration.ts';
import { Memo } from '../util/memo.ts';

/** The files of the last few calls, by key and directory: a fleet has one at a time. */
const read = new Memo<Promise<MigrationFile[]>>(4);

/** The migrations of `dir`, read once for every run that shares `key` (null: read now). */
export function migrationsOf(dir: string, key: string | null): Promise<MigrationFile[]> {
  if (key === null) return discoverMigrations(dir);
  const id = `${key}\u0000${dir}`;
  return read.get(id, () => {
    const reading = discoverMigrations(dir);
    // A failure is every target's: the next target reads again and reports it too.
    reading.catch(() => read.delete(id));
    return reading;
  });
}
