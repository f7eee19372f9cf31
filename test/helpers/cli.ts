/** Running programs, the offloop CLI above all, as a deploy pipeline would: a real process. */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LIBPQ_ENVIRONMENT } from '@offloop/core';

/** The CLI's entry point, run from source. */
export const BIN = fileURLToPath(new URL('../../packages/cli/src/bin.ts', import.meta.url));

/** What a process left: its exit code and everything it printed. */
export type Result = {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
};

/** Options of {@link exec}: working directory (default: the system temp directory) and extra environment. */
export type ExecOptions = { readonly cwd?: string; readonly env?: Record<string, string> };

/**
 * Spawn `file` with `args`, without colours and with no DATABASE_URL or libpq variable (`PGHOST`,
 * ...: they name a database for the CLI as for psql) unless `env` gives them.
 */
export async function exec(
  file: string,
  args: readonly string[],
  options: ExecOptions = {},
): Promise<Result> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', ...options.env };
  for (const name of ['DATABASE_URL', ...LIBPQ_ENVIRONMENT])
    if (options.env?.[name] === undefined) delete env[name];
  const child = spawn(file, args, {
    cwd: options.cwd ?? tmpdir(),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

/** Run `offloop <args>` as a process (see {@link exec}). */
export const offloop = (args: readonly string[], options: ExecOptions = {}): Promise<Result> =>
  exec(process.execPath, [BIN, ...args], options);
