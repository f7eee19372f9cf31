/** The data directory: what it holds, a stale `postmaster.pid` in it, the version of its cluster. */
import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errorSuffix, isErrno, type Fail } from './failure.ts';

/** What the data directory holds: nothing yet (missing or empty), or a cluster. */
export type DataDirState = 'missing' | 'empty' | 'cluster';

/** What the data directory holds; anything else than a cluster or nothing fails. */
export async function inspectDataDir(dataDir: string, fail: Fail): Promise<DataDirState> {
  let entries: string[];
  try {
    entries = await readdir(dataDir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return 'missing';
    throw fail(`cannot read the data directory${errorSuffix(error)}`, error);
  }
  if (entries.includes('PG_VERSION')) return 'cluster';
  if (entries.length === 0) return 'empty';
  throw fail('the data directory is not empty and holds no PostgreSQL cluster (no PG_VERSION)');
}

/**
 * A `postmaster.pid` left by a server that was killed (or by a container that restarted) makes
 * PostgreSQL refuse to start when its pid now belongs to another live process.
 */
export async function removeStalePid(dataDir: string, fail: Fail): Promise<void> {
  const file = path.join(dataDir, 'postmaster.pid');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw fail(`cannot read ${file}${errorSuffix(error)}`, error);
  }
  const pid = Number.parseInt(text.split('\n', 1)[0] ?? '', 10);
  if (Number.isInteger(pid) && pid > 0 && (await isPostgresProcess(pid))) {
    throw fail(`the data directory is in use by a running PostgreSQL server (pid ${String(pid)})`);
  }
  await unlink(file).catch((error: unknown) => {
    if (!isErrno(error, 'ENOENT'))
      throw fail(`cannot remove the stale ${file}${errorSuffix(error)}`, error);
  });
}

async function isPostgresProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (isErrno(error, 'ESRCH')) return false;
  }
  // Alive (or not ours to signal). Where /proc exists, tell a reused pid from a server.
  try {
    const cmdline = await readFile(`/proc/${String(pid)}/cmdline`, 'utf8');
    return cmdline.includes('postgres');
  } catch (error) {
    return !isErrno(error, 'ENOENT');
  }
}

/** The cluster's major version, from its `PG_VERSION` file, or `unknown`. */
export async function readPgVersion(dataDir: string): Promise<string> {
  return (await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8').catch(() => 'unknown')).trim();
}
