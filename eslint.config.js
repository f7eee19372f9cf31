// Lint with type information (the root tsconfig.json), for the async mistakes a compiler misses:
// floating and misused promises, non-exhaustive switches over unions, throwing non-errors.
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

const typescriptFiles = [
  'packages/*/src/**/*.ts',
  'test/**/*.ts',
  'scripts/**/*.ts',
  'bench/**/*.ts',
];

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
    // The host-safe half of core (everything outside src/engine/) is what the host may load: no
    // database driver, no SQL parser, nothing of the engine at runtime. Types are fine: they are
    // erased (verbatimModuleSyntax keeps `import type` out of the emitted code).
    files: ['packages/core/src/**/*.ts'],
    ignores: ['packages/core/src/engine/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: ['slonik', 'pg', 'libpg-query'].map((name) => ({
            name,
            message: `${name} is worker-only: use it under packages/core/src/engine/ (type imports are fine).`,
            allowTypeImports: true,
          })),
          patterns: [
            {
              group: ['**/engine/**', '**/engine', '@offloop/core/engine'],
              message:
                'packages/core/src/engine/ is worker-only: the host-safe folders may import its types, not its code.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
]);
