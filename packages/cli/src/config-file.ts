/**
 * The config file: `offloop.config.json` in the working directory (optional), or the file
 * `--config <path>` names (required). Its keys are the option names (`lockTimeout`), checked by
 * core's schema; a relative `dir` in it is relative to the file's directory.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { configSchema, messageOf, toConfigIssues, type ConfigIssue } from '@offloop/core';
import { displayPath } from './format.ts';

/** The config file looked for in the working directory. */
export const CONFIG_FILE_NAME = 'offloop.config.json';

/** A config file that was read: where, and its keys and values. */
type ConfigFile = {
  /** Absolute path. */
  readonly path: string;
  readonly values: Record<string, unknown>;
};

/** The options of a config file, checked. */
type LoadedConfigFile = ConfigFile & {
  /** Every URL the file names (`url`, `lockUrl`), valid or not, for the output to redact. */
  readonly urls: readonly string[];
};

/**
 * The options of the config file `flag` names (`--config`), or of `./offloop.config.json` if
 * there is one, checked by the schema (every problem is added to `issues`, with the file's name
 * in its path). Null when there is no file to read; `{}` for a file with problems.
 */
export async function loadConfigFile(
  flag: string | undefined,
  cwd: string,
  issues: ConfigIssue[],
): Promise<LoadedConfigFile | null> {
  const file = await readConfigFile(flag, cwd, issues);
  if (file === null) return null;
  const urls = [file.values.url, file.values.lockUrl].filter((url) => typeof url === 'string');
  const label = displayPath(file.path, cwd);
  if ('cwd' in file.values) {
    issues.push({
      path: `${label}: cwd`,
      message: "not allowed in a config file: a relative dir is resolved from the file's directory",
    });
  }
  const { cwd: _ignored, ...values } = file.values;
  const result = configSchema.partial().safeParse(values);
  if (!result.success) {
    for (const issue of toConfigIssues(result.error)) {
      issues.push({
        path: issue.path === '(root)' ? label : `${label}: ${issue.path}`,
        message: issue.message,
      });
    }
    return { path: file.path, values: {}, urls };
  }
  const dir =
    typeof values.dir === 'string' && !isAbsolute(values.dir)
      ? { dir: resolve(dirname(file.path), values.dir) }
      : {};
  return { path: file.path, values: { ...values, ...dir }, urls };
}

/**
 * Read the config file `flag` names (`--config`), or `./offloop.config.json` if there is one.
 * Null when there is none to read; a file that cannot be read or is not a JSON object adds an
 * issue and gives null too.
 */
async function readConfigFile(
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
    issues.push({ path: label, message: `not valid JSON: ${messageOf(error)}` });
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
