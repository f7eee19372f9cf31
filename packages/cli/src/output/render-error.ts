/**
 * A failure as a person reads it on stderr: `error[CODE]: message`, then what helps to fix it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { count, redactUrl, type ConfigIssue, type OffloopError } from '@offloop/core';
import { UsageError } from '../flags/usage-error.ts';
import { displayPath, formatDuration } from '../format.ts';
import { codeFrame, lineOf } from './code-frame.ts';
import type { Failure } from './errors.ts';

/** Where the paths in an error are relative to. */
type ErrorContext = {
  readonly cwd: string;
  /** The migrations directory, to read the failing line of a migration file; null if not known. */
  readonly migrationsDir: string | null;
};

/**
 * `error[CODE]: message`, then what helps to fix it: the issues of a configuration error, the
 * file, line and column of a SQL failure with the line itself and a caret, SQLSTATE, detail,
 * hint, and the chain of causes.
 */
export function renderError(error: Failure, context: ErrorContext): string {
  const lines: string[] = [];
  const details: Record<string, unknown> =
    error instanceof UsageError ? { issues: error.issues } : error.details;
  const issues = Array.isArray(details.issues) ? (details.issues as ConfigIssue[]) : null;
  if (issues !== null && issues.length > 0) {
    const what = error instanceof UsageError ? 'invalid command line' : 'invalid configuration';
    lines.push(`error[${error.code}]: ${what}, ${count(issues.length, 'problem')}:`);
    for (const issue of issues) lines.push(`  - ${issue.path}: ${issue.message}`);
  } else {
    lines.push(`error[${error.code}]: ${error.message}`);
  }

  if (typeof details.file === 'string') {
    lines.push(...renderLocation(details.file, details.line, details.column, context));
  }
  if (typeof details.sqlstate === 'string') lines.push(`  = SQLSTATE: ${details.sqlstate}`);
  if (typeof details.detail === 'string') lines.push(`  = detail: ${details.detail}`);
  if (typeof details.hint === 'string') lines.push(`  = hint: ${details.hint}`);
  if (typeof details.statement === 'string') lines.push(`  = statement: ${details.statement}`);
  if (typeof details.timeoutMs === 'number')
    lines.push(`  = timeout: ${formatDuration(details.timeoutMs)}`);
  if (Array.isArray(details.invalidIndexes) && details.invalidIndexes.length > 0)
    lines.push(`  = left behind, INVALID: ${details.invalidIndexes.join(', ')}`);
  const remedy = error instanceof UsageError ? undefined : remedyFor(error, details);
  if (remedy !== undefined) lines.push(`  = help: ${remedy}`);
  if (typeof details.url === 'string') lines.push(`  = database: ${redactUrl(details.url)}`);
  let cause: unknown = error.cause;
  for (let depth = 0; cause instanceof Error && depth < 5; depth += 1) {
    if (cause.message !== '' && !error.message.includes(cause.message))
      lines.push(`  caused by: ${cause.message}`);
    if (error.code === 'INTERNAL_ERROR' && cause.stack !== undefined)
      lines.push(indent(cause.stack, '    '));
    cause = cause.cause;
  }
  if (error instanceof UsageError) {
    lines.push(
      error.command === null
        ? 'Run offloop --help for the commands.'
        : `Run offloop ${error.command} --help for usage.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What to do, in CLI terms, for the codes where the engine's message names the problem but the
 * fix is a command: the reason and the way out on one screen. (Where the engine's message
 * already says how to go on, as for edited, missing and pending migrations, there is no entry.)
 */
const REMEDIES: Partial<Record<OffloopError['code'], string>> = {
  LOCK_NOT_AVAILABLE:
    'another session held a lock this statement needed through every retry; end or wait for ' +
    'the session named above, then run again, or allow more with --lock-retries, ' +
    '--lock-retry-max-timeout or a lock_timeout marker option',
  STATEMENT_TIMEOUT:
    'raise the limit with a statement_timeout marker option or --statement-timeout, or make the ' +
    'statement cheaper',
  MIGRATION_TIMEOUT: 'raise --migration-timeout, or split the migration',
};

/** SQLSTATEs of a failed `up` that mean the object exists already: often a database that predates offloop. */
const ALREADY_EXISTS = new Set(['42P07', '42710', '42701', '42723', '42P06']);

function remedyFor(error: OffloopError, details: Record<string, unknown>): string | undefined {
  if (error.code === 'MIGRATION_FAILED' && details.sqlstate === '25001') {
    return (
      'this statement cannot run inside a transaction: add transaction:false to the marker line ' +
      `("-- migrate:${details.direction === 'down' ? 'down' : 'up'} transaction:false"), ideally ` +
      'with the statement alone in its migration'
    );
  }
  if (
    error.code === 'MIGRATION_FAILED' &&
    details.direction === 'up' &&
    ALREADY_EXISTS.has(String(details.sqlstate)) &&
    Array.isArray(details.applied) &&
    details.applied.length === 0
  ) {
    return (
      'if the database already had this schema before offloop managed it, adopt it instead of ' +
      'running the migrations again: offloop stamp <version> records the migrations up to ' +
      '<version> as applied without running them'
    );
  }
  return REMEDIES[error.code];
}

/** `  --> migrations/x.sql:3:8`, then the line and a caret under the column when the file can be read. */
function renderLocation(
  file: string,
  line: unknown,
  column: unknown,
  context: ErrorContext,
): string[] {
  const path = context.migrationsDir === null ? file : resolve(context.migrationsDir, file);
  const shown = context.migrationsDir === null ? file : displayPath(path, context.cwd);
  if (typeof line !== 'number') return [`  --> ${shown}`];
  const col = typeof column === 'number' ? column : null;
  const out = [`  --> ${shown}:${line}${col === null ? '' : `:${col}`}`];
  let text: string | undefined;
  try {
    text = lineOf(readFileSync(path, 'utf8'), line);
  } catch {
    return out;
  }
  if (text === undefined) return out;
  return [...out, ...codeFrame(text, line, col)];
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}
