/**
 * The config file: `offloop.config.json` in the working directory (optional), or the file
 * `--config <path>` names (required). Its keys are the option names (`lockTimeout`). Read here
 * as a JSON object; its values are checked with the other sources in `load-config.ts`.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ConfigIssue } from '@offloop/core';
import { displayPath } from './format.ts';

/** The config file looked for in the working directory. */
export const CONFIG_FILE_NAME = 'offloop.config.json';

/** A config file that was read: where, and its keys and values, not yet checked. */
type ConfigFile = {
  /** Absolute path. */
  readonly path: string;
  readonly values: Record<string, unknown>;
};

/**
 * Read the config file `flag` names (`--config`), or `./offloop.config.json` if there is one.
 * Null when there is none to read; a file that cannot be read or is not a JSON object adds an
 * issue and gives null too.
 */
export async function readConfigFile(
  flag: string | undefined,
  cwd: string,
  issues: ConfigIssue[],
): Promise<ConfigFile | null> {
  const explicit = flag !== undefined;
  const path = explicit ? resolve(cwd, flag) : resolve(cwd, CONFIG_FILE_NAME);
  const label = displayPath(path, cwd);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!explicit && code === 'ENOENT') return null;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (code ?? String(error));
    issues.push({
      path: explicit ? '--config' : label,
      message: `cannot read ${label}: ${reason}`,
    });
    return null;
  }
  let values: unknown;
  try {
    values = JSON.parse(text);
  } catch (error) {
    issues.push({ path: label, message: `not valid JSON: ${(error as Error).message}` });
    return null;
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    issues.push({
      path: label,
      message: 'must be a JSON object of options, like {"dir": "./migrations"}',
    });
    return null;
  }
  return { path, values: values as Record<string, unknown> };
}
