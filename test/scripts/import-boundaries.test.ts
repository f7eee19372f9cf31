/**
 * The import rules of scripts/lint/import-boundaries.js: the plugin's rules with ESLint's
 * RuleTester, then the claims docs/architecture.md makes about imports, checked with the options
 * eslint.config.js gives each folder. A rule that stops reporting fails here, not quietly in lint.
 */
import path from 'node:path';
import test from 'ava';
import { ESLint, Linter, RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import importBoundaries from '../../scripts/lint/import-boundaries.js';

const root = path.resolve(import.meta.dirname, '../..');
const at = (file: string) => path.join(root, file);
const languageOptions = { parser: tseslint.parser, sourceType: 'module' } as const;

// Without mocha's globals, RuleTester runs each case at once and throws on the first failure.
RuleTester.describe = (_text: string, method: () => void) => method();
RuleTester.it = (_text: string, method: () => void) => method();
RuleTester.itOnly = RuleTester.it;

const tester = new RuleTester({ languageOptions });
const rules = importBoundaries.rules;

test('forbidden-imports reports each kind of entry, through every form of import', (t) => {
  const options = [
    {
      forbidden: [
        { name: 'pg', allowTypes: true, message: 'no driver' },
        { pattern: '^@offloop/[^/]+/', message: 'entry points only' },
        { folder: 'packages/worker/src/thread', message: 'by URL only' },
      ],
    },
  ];
  const filename = at('packages/worker/src/host/example.ts');
  const error = { messageId: 'forbidden' };
  t.notThrows(() =>
    tester.run('forbidden-imports', rules['forbidden-imports'], {
      valid: [
        { code: "import type { Client } from 'pg';", options, filename },
        { code: "export type { Client } from 'pg';", options, filename },
        { code: "type T = typeof import('pg');", options, filename },
        { code: "import { z } from 'zod';", options, filename },
        { code: "import '@offloop/core';", options, filename },
        { code: "import { x } from './thread-entry.ts';", options, filename },
        { code: "import { x } from '../threads.ts';", options, filename },
      ],
      invalid: [
        { code: "import pg from 'pg';", options, filename, errors: [error] },
        { code: "import { escape } from 'pg/lib/utils';", options, filename, errors: [error] },
        { code: "const pg = await import('pg');", options, filename, errors: [error] },
        { code: "export { Client } from 'pg';", options, filename, errors: [error] },
        { code: "export * from 'pg';", options, filename, errors: [error] },
        {
          code: "import type { X } from '@offloop/core/engine';",
          options,
          filename,
          errors: [error],
        },
        {
          code: "import { run } from '../thread/worker-entry.ts';",
          options,
          filename,
          errors: [error],
        },
        {
          code: 'const m = await import(`../thread/boot.ts`);',
          options,
          filename,
          errors: [error],
        },
      ],
    }),
  );
});

test('forbidden-imports with any and allowTypes lets a file import types only', (t) => {
  const options = [{ forbidden: [{ any: true, allowTypes: true, message: 'types only' }] }];
  const filename = at('packages/worker/src/protocol.ts');
  t.notThrows(() =>
    tester.run('forbidden-imports', rules['forbidden-imports'], {
      valid: [{ code: "import type { X } from '@offloop/core';", options, filename }],
      invalid: [
        {
          code: "import { X } from '@offloop/core';",
          options,
          filename,
          errors: [{ messageId: 'forbidden' }],
        },
      ],
    }),
  );
});

test('relative-imports-stay-in-package refuses a relative path into another package', (t) => {
  const filename = at('packages/worker/src/host/example.ts');
  t.notThrows(() =>
    tester.run('relative-imports-stay-in-package', rules['relative-imports-stay-in-package'], {
      valid: [
        { code: "import { x } from '../call.ts';", filename },
        { code: "import { x } from '@offloop/core';", filename },
      ],
      invalid: [
        {
          code: "import { x } from '../../../../core/src/index.ts';",
          filename,
          errors: [{ messageId: 'outside' }],
        },
      ],
    }),
  );
});

/** Whether eslint.config.js lets `file` import `specifier` (at runtime, or `import type`). */
async function allowed(file: string, specifier: string, kind: 'value' | 'type' = 'value') {
  const config = (await new ESLint({ cwd: root }).calculateConfigForFile(at(file))) as {
    rules?: Record<string, unknown>;
  };
  const ours = Object.fromEntries(
    Object.entries(config.rules ?? {}).filter(([rule]) => rule.startsWith('offloop/')),
  ) as Linter.RulesRecord;
  const code =
    kind === 'type' ? `import type { X } from '${specifier}';` : `import '${specifier}';`;
  const messages = new Linter({ cwd: root }).verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions,
        plugins: { offloop: importBoundaries },
        rules: ours,
      },
    ],
    { filename: at(file) },
  );
  return messages.length === 0;
}

/** [file, specifier, allowed?, kind]: what docs/architecture.md says each folder may import. */
const CLAIMS: readonly (readonly [string, string, boolean, ('value' | 'type')?])[] = [
  // core: the host-safe folders never load the driver or the engine; core imports no package.
  ['packages/core/src/plan/example.ts', 'pg', false],
  ['packages/core/src/plan/example.ts', 'pg', true, 'type'],
  ['packages/core/src/plan/example.ts', 'libpg-query', false],
  ['packages/core/src/plan/example.ts', '../engine/execute.ts', false],
  ['packages/core/src/plan/example.ts', '../engine/execute.ts', true, 'type'],
  ['packages/core/src/engine/example.ts', 'slonik', true],
  ['packages/core/src/engine/example.ts', '@offloop/worker', false],
  // worker's host side, its entries and port-endpoint.ts: no driver, no engine, never thread/.
  ...[
    'packages/worker/src/host/example.ts',
    'packages/worker/src/index.ts',
    'packages/worker/src/early.ts',
    'packages/worker/src/port-endpoint.ts',
  ].flatMap((file) => [
    [file, 'pg', false] as const,
    [file, 'slonik', false] as const,
    [file, '@offloop/core/engine', false] as const,
    [file, '@offloop/core/engine', true, 'type'] as const,
    [file, '@offloop/core', true] as const,
  ]),
  ['packages/worker/src/host/example.ts', '../thread/worker-entry.ts', false],
  ['packages/worker/src/protocol.ts', '@offloop/core', false],
  ['packages/worker/src/protocol.ts', '@offloop/core', true, 'type'],
  ['packages/worker/src/thread/example.ts', 'pg', true],
  ['packages/worker/src/thread/example.ts', '@offloop/testing', false],
  ['packages/worker/src/thread/example.ts', 'offloop', false],
  // embedded-postgres: core at most.
  ['packages/embedded-postgres/src/example.ts', '@offloop/core', true],
  ['packages/embedded-postgres/src/example.ts', '@offloop/worker', false],
  ['packages/embedded-postgres/src/example.ts', 'offloop', false],
  // testing: never the CLI; its host side never the driver nor the pool's code.
  ['packages/testing/src/example.ts', 'offloop', false],
  ['packages/testing/src/pool/example.ts', 'offloop', false],
  ['packages/testing/src/pool/example.ts', 'slonik', true],
  ['packages/testing/src/example.ts', 'slonik', false],
  ['packages/testing/src/example.ts', './pool/clone-pool.ts', false],
  ['packages/testing/src/protocol.ts', '@offloop/core', false],
  // cli: entry points only, never the driver; pg-boss in the fleet queue's files only.
  ['packages/cli/src/commands/example.ts', 'pg', false],
  ['packages/cli/src/commands/example.ts', '@offloop/core/engine', false],
  ['packages/cli/src/commands/example.ts', '@offloop/worker/early', true],
  ['packages/cli/src/commands/example.ts', '@offloop/worker/src/index.ts', false],
  ['packages/cli/src/commands/example.ts', 'pg-boss', false],
  ['packages/cli/src/fleet/queue.ts', 'pg-boss', true],
  ['packages/cli/src/fleet/queue-worker.ts', 'pg-boss', true],
  ['packages/worker/src/thread/example.ts', 'pg-boss', false],
  ['packages/core/src/engine/example.ts', 'pg-boss', false],
  ['packages/testing/src/pool/example.ts', 'pg-boss', false],
];

test("eslint.config.js enforces what docs/architecture.md says about each folder's imports", async (t) => {
  for (const [file, specifier, expected, kind = 'value'] of CLAIMS)
    t.is(
      await allowed(file, specifier, kind),
      expected,
      `${file}: ${kind === 'type' ? 'import type from ' : 'import '}${specifier}`,
    );
});
