/**
 * The workspace's packages as an application gets them from the registry, for tests that must run
 * the published JavaScript (on a Node.js that cannot run TypeScript, say): a `node_modules` with
 * each package's `package.json` as published (its `publishConfig` applied, as pnpm does) and its
 * `dist/` as `pnpm pack` builds it: the esbuild bundles of `scripts/bundle.ts` where the package
 * has them, else `src/` compiled with TypeScript's per-file transpiler, the same JavaScript as tsc
 * emits, without type checking (a few seconds for every package). Their third-party dependencies
 * are links to the workspace's installed copies.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { bundlePackage, isBundled } from '../../scripts/bundle.ts';

const PACKAGES = fileURLToPath(new URL('../../packages/', import.meta.url));

/** What the tests read of a package's `package.json`. */
type Manifest = {
  readonly name: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly publishConfig?: Readonly<Record<string, unknown>>;
};

/** The options `pnpm build` compiles with (`tsconfig.base.json`), less the files it emits beside. */
function compilerOptions(): ts.CompilerOptions {
  const file = fileURLToPath(new URL('../../tsconfig.base.json', import.meta.url));
  const read = ts.readConfigFile(file, (name) => ts.sys.readFile(name));
  if (read.error !== undefined)
    throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const { options } = ts.convertCompilerOptionsFromJson(
    (read.config as { compilerOptions: unknown }).compilerOptions,
    path.dirname(file),
  );
  return { ...options, declaration: false, sourceMap: false };
}

/** Compile one package's `src/**\/*.ts` into `dist/` under `into`. */
async function compile(source: string, into: string, options: ts.CompilerOptions): Promise<void> {
  const files = await readdir(source, { recursive: true });
  for (const file of files.filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))) {
    const text = await readFile(path.join(source, file), 'utf8');
    // Named `.mts`: the transpiler cannot see `"type": "module"`, and under `module: nodenext` it
    // would emit CommonJS for a `.ts` file.
    const { outputText } = ts.transpileModule(text, {
      fileName: file.replace(/\.ts$/, '.mts'),
      compilerOptions: options,
    });
    const target = path.join(into, file.replace(/\.ts$/, '.js'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, outputText);
  }
}

/** Link `name` in `nodeModules` to the copy `from` (a package directory) resolves. */
async function linkDependency(nodeModules: string, from: string, name: string): Promise<void> {
  const link = path.join(nodeModules, name);
  await mkdir(path.dirname(link), { recursive: true });
  const installed = await realpath(path.join(from, 'node_modules', name));
  await symlink(installed, link, 'dir').catch((error: unknown) => {
    // Two packages depend on it: the first one's copy serves both.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  });
}

/**
 * Install every workspace package, as published, into `<dir>/node_modules`; resolves to that
 * directory. `import('@offloop/worker')` from a file in `dir` (or with `dir` as the working
 * directory of `node --input-type=module -e`) then loads the published JavaScript.
 */
export async function installPublished(dir: string): Promise<string> {
  const nodeModules = path.join(dir, 'node_modules');
  const options = compilerOptions();
  for (const folder of await readdir(PACKAGES)) {
    const root = path.join(PACKAGES, folder);
    const manifest = JSON.parse(
      await readFile(path.join(root, 'package.json'), 'utf8'),
    ) as Manifest;
    const { publishConfig, ...rest } = manifest;
    const into = path.join(nodeModules, manifest.name);
    await mkdir(into, { recursive: true });
    await writeFile(
      path.join(into, 'package.json'),
      JSON.stringify({ ...rest, ...publishConfig }, null, 2),
    );
    if (isBundled(root)) await bundlePackage(root, into);
    else await compile(path.join(root, 'src'), path.join(into, 'dist'), options);
    for (const [name, range] of Object.entries(manifest.dependencies ?? {}))
      if (!range.startsWith('workspace:')) await linkDependency(nodeModules, root, name);
  }
  return nodeModules;
}

/** A Node.js older than offloop needs, and its version. */
export type OldNode = { readonly path: string; readonly version: string };

/**
 * A Node.js older than `major` on this machine: `OFFLOOP_OLD_NODE` if set, else the first `node`
 * on `PATH` (past the Node 24 that `./dev` puts first) or in `/usr/bin`, `/usr/local/bin` whose
 * major is older. Null when there is none.
 */
export async function findOldNode(major: number): Promise<OldNode | null> {
  const fromEnvironment = process.env['OFFLOOP_OLD_NODE'];
  const candidates =
    fromEnvironment === undefined
      ? [
          ...(process.env['PATH'] ?? '').split(path.delimiter).map((dir) => path.join(dir, 'node')),
          '/usr/bin/node',
          '/usr/local/bin/node',
        ]
      : [fromEnvironment];
  for (const candidate of new Set(candidates)) {
    const version = await promisify(execFile)(candidate, ['--version']).then(
      ({ stdout }) => stdout.trim().replace(/^v/, ''),
      () => null,
    );
    if (version !== null && Number.parseInt(version, 10) < major)
      return { path: candidate, version };
  }
  return null;
}
