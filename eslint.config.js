// Lint with type information (the root tsconfig.json), for the async mistakes a compiler misses:
// floating and misused promises, non-exhaustive switches over unions, throwing non-errors.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import importBoundaries from './scripts/lint/import-boundaries.js';

const typescriptFiles = [
  'packages/*/src/**/*.ts',
  'test/**/*.ts',
  'scripts/**/*.ts',
  'bench/**/*.ts',
];

const DRIVER = ['slonik', 'pg', 'libpg-query'];

const ENGINE_TYPES_ONLY = {
  allowTypes: true,
  message:
    'packages/core/src/engine/ is worker-only: the host-safe folders may import its types, not its code.',
};

const CORE_IMPORTS_NO_PACKAGE = {
  pattern: '^(offloop|@offloop/[^/]+)(/|$)',
  message: 'core is the bottom of the packages (cli -> worker -> core): it imports none of them.',
};

/** Any package of ours but @offloop/core. */
const OURS_BUT_CORE = '^(offloop(/|$)|@offloop/(?!core(/|$)))';

const WORKER_IMPORTS_CORE_ONLY = {
  pattern: OURS_BUT_CORE,
  message: 'the worker depends on @offloop/core only (cli -> worker -> core).',
};

const EMBEDDED_POSTGRES_IMPORTS_CORE_ONLY = {
  pattern: OURS_BUT_CORE,
  message: 'embedded-postgres depends on @offloop/core at most: the CLI and testing load it.',
};

const TESTING_NEVER_CLI = {
  name: 'offloop',
  message: 'the test harness is a library: it never loads the CLI.',
};

const PG_BOSS_IN_QUEUE_ONLY = {
  name: 'pg-boss',
  message:
    'pg-boss (and its own pg) is for the fleet queue only: import it in packages/cli/src/fleet/queue*.ts.',
};

const PROTOCOL_TYPES_ONLY = {
  allowTypes: true,
  message:
    'a protocol file describes the messages between host and thread: it imports types only, so both sides may load it.',
};

/**
 * `offloop/<rule>` for `files` (but not `ignores`): the imports they may not make. The rule is
 * `forbidden-imports` (a folder's imports: where it runs), or `package-imports` for a package's
 * (the same rule under a second name, so that a package's options do not replace a folder's).
 */
function forbid(files, ignores, forbidden, rule = 'forbidden-imports') {
  return {
    files,
    ignores,
    plugins: { offloop: importBoundaries },
    rules: { [`offloop/${rule}`]: ['error', { forbidden }] },
  };
}

/** Which packages (and which third-party packages of one folder only) a package's files may import. */
function forbidInPackage(files, ignores, forbidden) {
  return forbid(files, ignores, forbidden, 'package-imports');
}

export default defineConfig([
  globalIgnores(['**/dist/', '.tools/', '**/node_modules/']),
  {
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'module' },
  },
  {
    files: typescriptFiles,
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      // tsc reports unused locals and parameters (noUnusedLocals, noUnusedParameters); this only
      // has to allow the `_` convention for deliberately ignored values.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Every package: a relative import stays inside its package.
    files: ['packages/*/src/**/*.ts'],
    plugins: { offloop: importBoundaries },
    rules: { 'offloop/relative-imports-stay-in-package': 'error' },
  },
  // What each package may import: one entry per package, the packages disjoint.
  forbidInPackage(
    ['packages/core/src/**/*.ts'],
    [],
    [CORE_IMPORTS_NO_PACKAGE, PG_BOSS_IN_QUEUE_ONLY],
  ),
  forbidInPackage(
    ['packages/worker/src/**/*.ts'],
    [],
    [WORKER_IMPORTS_CORE_ONLY, PG_BOSS_IN_QUEUE_ONLY],
  ),
  forbidInPackage(
    ['packages/embedded-postgres/src/**/*.ts'],
    [],
    [EMBEDDED_POSTGRES_IMPORTS_CORE_ONLY, PG_BOSS_IN_QUEUE_ONLY],
  ),
  forbidInPackage(['packages/testing/src/**/*.ts'], [], [TESTING_NEVER_CLI, PG_BOSS_IN_QUEUE_ONLY]),
  forbidInPackage(
    ['packages/cli/src/**/*.ts'],
    ['packages/cli/src/fleet/queue*.ts'],
    [PG_BOSS_IN_QUEUE_ONLY],
  ),
  // What each folder may import (where it runs). One entry per folder, the folders disjoint: a
  // later entry for the same file would replace the rule's options, not add to them.
  forbid(
    ['packages/core/src/**/*.ts'],
    ['packages/core/src/engine/**'],
    [
      // The host-safe half of core (everything outside src/engine/) is what the host may load: no
      // database driver, no SQL parser, nothing of the engine at runtime. Types are fine: they are
      // erased (verbatimModuleSyntax keeps `import type` out of the emitted code).
      ...DRIVER.map((name) => ({
        name,
        allowTypes: true,
        message: 'worker-only: use it under packages/core/src/engine/ (type imports are fine).',
      })),
      { name: '@offloop/core/engine', ...ENGINE_TYPES_ONLY },
      { folder: 'packages/core/src/engine', ...ENGINE_TYPES_ONLY },
    ],
  ),
  forbid(
    [
      'packages/worker/src/host/**/*.ts',
      'packages/worker/src/index.ts',
      'packages/worker/src/early.ts',
      'packages/worker/src/port-endpoint.ts',
    ],
    [],
    [
      // The host side (and the package's entries, which the host loads; port-endpoint.ts, which
      // both sides load) runs on the caller's thread: no driver, no engine, and the thread's
      // modules only by URL (host/thread-entry.ts), never imported.
      ...[...DRIVER, '@offloop/core/engine'].map((name) => ({
        name,
        allowTypes: true,
        message:
          "the worker's host side runs on the caller's thread: only the thread loads it (type imports are fine).",
      })),
      {
        folder: 'packages/worker/src/thread',
        message:
          'the host starts thread modules by URL (host/thread-entry.ts), it never imports them.',
      },
    ],
  ),
  forbid(['packages/worker/src/protocol.ts'], [], [{ any: true, ...PROTOCOL_TYPES_ONLY }]),
  forbid(
    ['packages/testing/src/*.ts'],
    ['packages/testing/src/protocol.ts'],
    [
      // The harness's host side runs in the test process: it starts the clone pool's thread by URL
      // (harness.ts) and never loads the driver, the engine or the pool's code itself.
      ...[...DRIVER, '@offloop/core/engine'].map((name) => ({
        name,
        allowTypes: true,
        message:
          "testing's host side runs in the test process: only the pool thread loads it (type imports are fine).",
      })),
      ...['packages/testing/src/pool', 'packages/testing/src/server'].map((folder) => ({
        folder,
        allowTypes: true,
        message:
          'the harness starts the pool thread by URL (harness.ts), it never imports its code (type imports are fine).',
      })),
    ],
  ),
  forbid(['packages/testing/src/protocol.ts'], [], [{ any: true, ...PROTOCOL_TYPES_ONLY }]),
  forbid(
    ['packages/cli/src/**/*.ts'],
    [],
    [
      // The CLI is a client of the library: it goes through the packages' entry points and never
      // loads the driver itself.
      ...[...DRIVER, '@offloop/core/engine'].map((name) => ({
        name,
        message:
          'the CLI never loads the driver or the engine: call the migrator (@offloop/worker).',
      })),
      {
        // `@offloop/worker/early` is a published entry point (bin.ts starts the thread with it).
        pattern: '^@offloop/(?!worker/early$)[^/]+/',
        message: "the CLI imports a package's entry points (@offloop/<name>), never its internals.",
      },
    ],
  ),
]);
