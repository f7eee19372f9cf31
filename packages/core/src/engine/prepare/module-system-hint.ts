/**
 * Why a module migration failed to load, when the reason is that Node took it for the other
 * module system: ESM syntax (`export`, `import`) in a file Node loads as CommonJS, or
 * `exports.up = ...` in one it loads as an ES module. Node's own message says neither which
 * package.json decided that nor what to rename the file to.
 */
import { basename, dirname, extname } from 'node:path';
import { packageScopeOf } from '../../files/package-scope.ts';
import type { ModuleMigrationFile } from '../../model/migration.ts';

/**
 * V8's messages for ES module syntax compiled as CommonJS. V8's SyntaxError has no code, so the
 * message is the only way to tell these from any other syntax error; it is read only after the
 * file's extension and its package.json's `"type"` have said the file was loaded as CommonJS.
 */
const ESM_SYNTAX_IN_COMMONJS = [
  "Unexpected token 'export'",
  'Cannot use import statement outside a module',
  "Cannot use 'import.meta' outside a module",
  'await is only valid in async functions and the top level bodies of modules',
];

/** Node's message for `exports`, `module` or `require` used in an ES module. */
const COMMONJS_IN_ESM = /\b(?:exports|module|require) is not defined in ES module scope\b/;

/**
 * A sentence in parentheses, with a leading space, to append to the load failure's message;
 * `''` when the failure is not a module-system mix-up.
 */
export async function moduleSystemHint(
  migration: ModuleMigrationFile,
  cause: unknown,
): Promise<string> {
  const extension = extname(migration.file);
  if (cause instanceof SyntaxError && isEsmSyntaxInCommonJs(cause)) {
    if (extension === '.cjs' || extension === '.cts')
      return (
        ' (a .cjs or .cts file is CommonJS: write `exports.up = async (ctx) => ' +
        '{ ... }`, or use .mjs/.mts)'
      );
    if (extension !== '.ts' && extension !== '.js') return '';
    const scope = await packageScopeOf(dirname(migration.path));
    if (scope.type !== 'commonjs' || scope.packageJson === null) return '';
    return (
      ` (Node loads a ${extension} file as CommonJS here because ${scope.packageJson} has ` +
      `"type": "commonjs": rename it to ${renamed(migration.file, extension === '.ts' ? '.mts' : '.mjs')}, ` +
      'or set "type": "module" in that package.json)'
    );
  }
  // Node explains this for a `.js` file itself; a `.ts` file gets no word on why.
  if (
    extension === '.ts' &&
    cause instanceof ReferenceError &&
    COMMONJS_IN_ESM.test(cause.message)
  ) {
    const scope = await packageScopeOf(dirname(migration.path));
    if (scope.type !== 'module' || scope.packageJson === null) return '';
    return (
      ` (Node loads a .ts file as an ES module here because ${scope.packageJson} has ` +
      `"type": "module": write \`export async function up(ctx)\`, or rename it to ` +
      `${renamed(migration.file, '.cts')})`
    );
  }
  return '';
}

/** V8's, not the TypeScript stripper's (which sets a code), and one of the messages above. */
function isEsmSyntaxInCommonJs(error: SyntaxError): boolean {
  return (
    (error as { code?: unknown }).code === undefined &&
    ESM_SYNTAX_IN_COMMONJS.some((message) => error.message.startsWith(message))
  );
}

function renamed(file: string, extension: string): string {
  return `${basename(file, extname(file))}${extension}`;
}
