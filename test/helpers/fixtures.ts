/** Files on disk for a test, removed when it ends. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

/**
 * Write `files` (relative path to content) into a fresh temporary directory and return its
 * path; the directory is removed when the test ends.
 *
 * @example
 * ```ts
 * const dir = await migrationsDir(t, { '20250101000000_users.sql': '-- migrate:up\ncreate table users ();' });
 * ```
 */
export async function migrationsDir(
  t: ExecutionContext,
  files: Record<string, string>,
): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'offloop-migrations-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    const file = path.resolve(dir, name);
    const relative = path.relative(dir, file);
    if (
      path.isAbsolute(name) ||
      relative === '' ||
      relative === '..' ||
      relative.startsWith(`..${path.sep}`)
    ) {
      throw new Error(`migrationsDir: ${name} is not a relative path inside the directory`);
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}
