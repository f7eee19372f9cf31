/**
 * Which module system Node gives a `.ts` or `.js` file: the `"type"` of the nearest
 * package.json above it. `offloop create --ts` picks `.ts` or `.mts` by it, and a migration that
 * fails to load as CommonJS is explained by it.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

/** The package.json that decides a directory's module type, as Node finds it. */
export type PackageScope = {
  /** Absolute path of the nearest package.json, or null when there is none above the directory. */
  readonly packageJson: string | null;
  /**
   * Its `"type"` field when that is `"module"` or `"commonjs"`; null when it has none (or another
   * value, which Node ignores), cannot be read or parsed, or there is no package.json. Node then
   * guesses a `.ts`/`.js` file's type from its syntax.
   */
  readonly type: 'module' | 'commonjs' | null;
};

/**
 * The package scope of files in `dir` (which need not exist yet): walk up from it, as Node does
 * for `"type"`, and stop at the first package.json. Like Node, never reads a package.json directly
 * inside a `node_modules` directory (that is no package's own file) and stops there.
 */
export async function packageScopeOf(dir: string): Promise<PackageScope> {
  for (let current = resolve(dir); ; current = dirname(current)) {
    if (basename(current) === 'node_modules') return { packageJson: null, type: null };
    const packageJson = join(current, 'package.json');
    const text = await readIfThere(packageJson);
    if (text !== null) return { packageJson, type: typeField(text) };
    if (dirname(current) === current) return { packageJson: null, type: null };
  }
}

/** The file's text; null when there is no such file (or a file in the way of its directory). */
async function readIfThere(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    // There but unreadable (a directory, no permission): Node stops at it too, knowing no type.
    return '';
  }
}

function typeField(text: string): PackageScope['type'] {
  try {
    const parsed: unknown = JSON.parse(text);
    const type =
      typeof parsed === 'object' && parsed !== null ? (parsed as { type?: unknown }).type : null;
    return type === 'module' || type === 'commonjs' ? type : null;
  } catch {
    return null;
  }
}
