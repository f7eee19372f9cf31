/**
 * `prepack` of every package (run by `pnpm pack` and `pnpm publish` in the package's directory):
 * build `dist/` from scratch, so a tarball can never be packed without its JavaScript or with
 * stale files, and copy the repository's LICENSE beside the package's own README. tsc writes the
 * declarations; the JavaScript is esbuild's bundles (`bundle.ts`) where the package has them,
 * else tsc's.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundlePackage, isBundled } from './bundle.ts';

const packageDir = process.cwd();
const root = join(import.meta.dirname, '..');

// npm would ship `workspace:*` dependency ranges and the workspace-only `offloop-source` export
// that pnpm replaces (publishConfig); such a tarball cannot be installed.
const agent = process.env['npm_config_user_agent'] ?? '';
if (!agent.startsWith('pnpm/'))
  throw new Error(
    `pack offloop's packages with pnpm (pnpm -C packages/<name> pack), not ${agent.split(' ')[0] || 'this tool'}: ` +
      'it rewrites workspace:* dependencies and the exports for publishing',
  );
if (!existsSync(join(packageDir, 'README.md'))) throw new Error(`${packageDir} has no README.md`);
rmSync(join(packageDir, 'dist'), { recursive: true, force: true });
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const bundled = isBundled(packageDir);
execFileSync(
  process.execPath,
  [tsc, '-p', 'tsconfig.build.json', ...(bundled ? ['--emitDeclarationOnly'] : [])],
  { cwd: packageDir, stdio: 'inherit' },
);
if (bundled) await bundlePackage(packageDir);
copyFileSync(join(root, 'LICENSE'), join(packageDir, 'LICENSE'));
