/**
 * The published JavaScript of the packages whose load time matters: each entry bundled with
 * esbuild into one file (and a few shared chunks), so that Node reads a handful of files instead
 * of hundreds (issue 14). `prepack.ts` runs it after tsc has written the declarations; packages
 * with no bundle here (`@offloop/embedded-postgres`, `@offloop/testing`) ship tsc's JavaScript.
 *
 * What stays a separate package at runtime (external), and why:
 * - `@offloop/*` on the host side: the error classes are public and compared with `instanceof`;
 *   two bundles each with a copy of `@offloop/core` would make two classes of each error.
 *   The thread's bundle inlines core: errors leave the thread as envelopes, rebuilt on the host.
 * - `piscina`: it starts its own `dist/worker.js` by path, which a bundle would not have beside it.
 * - `libpg-query`: it loads its `.wasm` from beside its own module.
 * - `slonik` (and its OpenTelemetry): loaded only when a JavaScript or TypeScript migration runs.
 * - `pg` on the host side (the CLI and the library never query). The thread inlines it: its ~40
 *   CommonJS files took ~25 ms to load in every new thread. slonik's driver imports its own `pg`
 *   from node_modules when a module migration runs; `pg-native` stays optional and external.
 * Each external a bundle imports must be a dependency of the package that ships the bundle, not
 * only of a package it inlines: under a strict layout (pnpm's), `@offloop/worker`'s thread would
 * not find the `libpg-query` and `slonik` of `@offloop/core`. {@link bundlePackage} checks it.
 * Inlined: zod (host config validation, tree-shaken to what core uses) and comlink. Their licence
 * notices are kept: esbuild's `legalComments` at the end of each file, and every inlined package's
 * licence in `dist/THIRD-PARTY-LICENSES.md`.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import * as esbuild from 'esbuild';

/** One esbuild run: output name (without `.js`, relative to `outdir`) to source entry. */
type Bundle = {
  readonly outdir: string;
  readonly entries: Readonly<Record<string, string>>;
  readonly external: readonly string[];
  /**
   * Inline `@offloop/core` from its sources (the workspace's `offloop-source` condition), taking
   * only the modules the entries use: core's modules other than the Node version check are
   * treated as free of side effects, so that an unused one (the zod config schemas) is left out.
   */
  readonly inlineCore?: boolean;
  readonly define?: Readonly<Record<string, string>>;
  /** CommonJS code is inlined (pg): its `require` of Node's modules needs one in ESM. */
  readonly inlinesCommonJs?: boolean;
};

/** The `require` that inlined CommonJS calls for Node's own modules, at the top of each file. */
const REQUIRE_BANNER =
  "import { createRequire as offloopCreateRequire } from 'node:module';\n" +
  'const require = offloopCreateRequire(import.meta.url);';

/** Third-party packages no bundle inlines. */
const NOT_INLINED = ['slonik', 'libpg-query', 'pg', 'piscina'];

/** The bundles of each package, by its directory under `packages/`. */
const BUNDLES: Readonly<Record<string, readonly Bundle[]>> = {
  core: [
    {
      outdir: 'dist',
      entries: { index: 'src/index.ts', 'engine/index': 'src/engine/index.ts' },
      external: NOT_INLINED,
    },
  ],
  worker: [
    {
      outdir: 'dist',
      // One run, so that both entries share early-thread.ts's state (a chunk of its own).
      entries: { index: 'src/index.ts', early: 'src/early.ts' },
      external: ['@offloop/*', ...NOT_INLINED],
      // thread-entry.ts finds `thread/` relative to itself; bundled, it is in dist/index.js.
      define: { OFFLOOP_THREAD_DIR: JSON.stringify('./thread/') },
    },
    {
      outdir: 'dist/thread',
      entries: {
        'worker-boot': 'src/thread/worker-boot.ts',
        'worker-entry': 'src/thread/worker-entry.ts',
        'cancel-entry': 'src/thread/cancel-entry.ts',
      },
      external: ['slonik', 'libpg-query', 'piscina', 'pg-native'],
      inlineCore: true,
      inlinesCommonJs: true,
    },
  ],
  cli: [
    {
      outdir: 'dist',
      // bin.js stays a small file of its own: it checks the Node version before main.js loads.
      entries: { bin: 'src/bin.ts', main: 'src/main.ts', index: 'src/index.ts' },
      // pg-boss (and its pg) only for `fleet up --queue` and `fleet work`, loaded when used.
      external: ['@offloop/*', ...NOT_INLINED, 'pg-boss'],
    },
  ],
};

/** Whether `dir` (a package directory) has bundles; its JavaScript is then theirs, not tsc's. */
export function isBundled(dir: string): boolean {
  return path.basename(dir) in BUNDLES;
}

/**
 * Build the bundles of the package in `dir` into `<outRoot>/` (its `dist/`'s parent, the package
 * itself by default), with the licences of what they inline in `dist/THIRD-PARTY-LICENSES.md`.
 */
export async function bundlePackage(dir: string, outRoot: string = dir): Promise<void> {
  const bundles = BUNDLES[path.basename(dir)];
  if (bundles === undefined) throw new Error(`${dir}: no bundles defined in scripts/bundle.ts`);
  // Root directories of the third-party packages inlined.
  const inlined = new Set<string>();
  const imported = new Set<string>();
  for (const bundle of bundles) {
    const result = await esbuild.build({
      absWorkingDir: dir,
      entryPoints: Object.entries(bundle.entries).map(([out, source]) => ({ in: source, out })),
      outdir: path.join(outRoot, bundle.outdir),
      bundle: true,
      splitting: true,
      chunkNames: 'chunk-[hash]',
      format: 'esm',
      platform: 'node',
      target: 'node24',
      // The workspace packages' sources (not their dist), so that nothing must be built first.
      conditions: ['offloop-source'],
      external: [...bundle.external],
      plugins: bundle.inlineCore ? [coreWithoutSideEffects(dir)] : [],
      define: { ...bundle.define },
      ...(bundle.inlinesCommonJs === true ? { banner: { js: REQUIRE_BANNER } } : {}),
      sourcemap: 'linked',
      sourcesContent: true,
      legalComments: 'eof',
      // Readable stack traces without a source map: names as written.
      minify: false,
      keepNames: true,
      metafile: true,
      logLevel: 'warning',
    });
    for (const input of Object.keys(result.metafile.inputs)) {
      const root = packageRoot(input);
      if (root !== null) inlined.add(path.resolve(dir, root));
    }
    for (const output of Object.values(result.metafile.outputs))
      for (const { path: specifier, external } of output.imports)
        if (external === true) imported.add(specifier);
  }
  assertDeclared(dir, imported);
  writeLicenses(path.join(outRoot, 'dist'), [...inlined].sort());
}

/** Optional packages a bundle may import without depending on them (inlined `pg` tries `pg-native`). */
const OPTIONAL_IMPORTS = new Set(['pg-native']);

/** Throw unless every package the bundles of `dir` import at runtime is one of its dependencies. */
function assertDeclared(dir: string, specifiers: ReadonlySet<string>): void {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<
    string,
    Record<string, string> | undefined
  >;
  const declared = new Set(
    ['dependencies', 'optionalDependencies', 'peerDependencies'].flatMap((field) =>
      Object.keys(manifest[field] ?? {}),
    ),
  );
  const missing = new Set<string>();
  for (const specifier of specifiers) {
    if (specifier.startsWith('node:') || specifier.startsWith('.') || isBuiltin(specifier))
      continue;
    const [scope = '', name = ''] = specifier.split('/');
    const packageName = scope.startsWith('@') ? `${scope}/${name}` : scope;
    if (!declared.has(packageName) && !OPTIONAL_IMPORTS.has(packageName)) missing.add(packageName);
  }
  if (missing.size > 0)
    throw new Error(
      `${dir}: its bundles import ${[...missing].join(', ')}, which package.json does not ` +
        "list in dependencies (a strict install, such as pnpm's, would not find them)",
    );
}

/** The root of the package a bundled input (a path esbuild reports) comes from, if third-party. */
function packageRoot(input: string): string | null {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at === -1) return null;
  const scoped = parts[at + 1]?.startsWith('@') === true;
  return parts.slice(0, at + (scoped ? 3 : 2)).join('/');
}

/** `dist/THIRD-PARTY-LICENSES.md`: each inlined package, its version and its licence text. */
function writeLicenses(dist: string, roots: readonly string[]): void {
  const sections = roots.map((root) => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const file = readdirSync(root).find((entry) => /^(licen[cs]e|copying)/i.test(entry));
    const text =
      file === undefined
        ? `(${manifest.license ?? 'no licence'})`
        : readFileSync(path.join(root, file), 'utf8');
    return `## ${manifest.name} ${manifest.version} (${manifest.license ?? 'unknown'})\n\n\`\`\`\n${text.trim()}\n\`\`\`\n`;
  });
  const header =
    '# Third-party code bundled in this package\n\n' +
    'The JavaScript in `dist/` includes code from these packages, under their licences.\n\n';
  writeFileSync(path.join(dist, 'THIRD-PARTY-LICENSES.md'), header + sections.join('\n'));
}

/**
 * An esbuild plugin: `@offloop/core`'s source modules, except the Node version check, count as
 * free of side effects, so a module none of whose exports is used is left out of the bundle
 * (esbuild keeps any module-level call otherwise, such as building a zod schema).
 */
function coreWithoutSideEffects(dir: string): esbuild.Plugin {
  const coreSource = path.join(path.dirname(dir), 'core', 'src') + path.sep;
  const again = Symbol('resolved by coreWithoutSideEffects');
  return {
    name: 'core-without-side-effects',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if ((args.pluginData as Record<symbol, unknown> | undefined)?.[again] === true)
          return undefined;
        const result = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          with: args.with,
          pluginData: { [again]: true },
        });
        if (result.errors.length > 0) return { errors: result.errors };
        const pure =
          result.path.startsWith(coreSource) && path.basename(result.path) !== 'node-version.ts';
        return { ...result, sideEffects: pure ? false : result.sideEffects };
      });
    },
  };
}
