/**
 * `prepack` of every package (run by `pnpm pack` and `pnpm publish` in the package's directory):
 * build `dist/` from scratch, so a tarball can never be packed without its JavaScript or with
 * stale files, and copy the repository's LICENSE beside the package's own README.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const packageDir = process.cwd();
const root = join(import.meta.dirname, '..');

if (!existsSync(join(packageDir, 'README.md'))) throw new Error(`${packageDir} has no README.md`);
rmSync(join(packageDir, 'dist'), { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: packageDir,
  stdio: 'inherit',
});
copyFileSync(join(root, 'LICENSE'), join(packageDir, 'LICENSE'));
