/**
 * Everything the CLI prints goes through here: human text, or with `--json` exactly one JSON
 * document on stdout (the result, or `{ "error": envelope }`). Progress and notices go to
 * stderr. Every line is redacted on the way out: a database password is never printed, whatever
 * error message or detail carries it.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  InternalError,
  isOffloopError,
  primaryFailure,
  redactUrl,
  toEnvelope,
  type ConfigIssue,
  type ErrorEnvelope,
  type OffloopError,
  type ProgressEvent,
} from '@offloop/core';
import { UsageError } from './args.ts';
import { escapeControls, frameLine, lineOf } from './code-frame.ts';
import type { Io } from './command.ts';
import { displayPath } from './config.ts';
import { EXIT_USAGE, exitCodeFor } from './exit-codes.ts';
import { count, formatDuration } from './format.ts';

/** Output of one command run. */
export type Output = {
  /** Whether `--json` was given. */
  readonly json: boolean;
  /** Redact these URLs' passwords (and the URLs themselves) from everything printed from now on. */
  addSecrets(urls: readonly string[]): void;
  /** Where the migration files are, to show the failing line of one. */
  setMigrationsDir(dir: string): void;
  /** One `offloop: ...` line on stderr, in both modes. */
  notice(message: string): void;
  /** `offloop: warning: ...` and the error on stderr, in both modes; does not change the exit code. */
  warning(message: string, error: unknown): void;
  /** A progress event, as a line on stderr in human mode; nothing with `--json`. */
  progress(event: ProgressEvent): void;
  /** The command's result: `value` as JSON with `--json`, else the human lines on stdout. */
  result(value: unknown, human: () => readonly string[]): void;
  /** Report a failure (stderr in human mode, `{ "error": ... }` on stdout with `--json`) and return the exit code. */
  fail(error: unknown): number;
};

/** Create the output of one run. */
export function createOutput(io: Io, json: boolean): Output {
  const redactor = new Redactor();
  let migrationsDir: string | null = null;
  const out = (text: string): void => void io.stdout.write(redactor.redact(text));
  // Error messages quote migration files and the server: never let them write control sequences.
  const err = (text: string): void => void io.stderr.write(escapeControls(redactor.redact(text)));

  return {
    json,
    addSecrets(urls) {
      for (const url of urls) redactor.add(url);
    },
    setMigrationsDir(dir) {
      migrationsDir = dir;
    },
    notice(message) {
      err(`offloop: ${message}\n`);
    },
    warning(message, error) {
      const { primary, cleanup } = unwrap(error);
      err(
        `offloop: warning: ${message}:\n${[primary, ...cleanup].map((failure) => renderError(failure, { cwd: io.cwd, migrationsDir })).join('')}`,
      );
    },
    progress(event) {
      if (json) return;
      const line = renderProgress(event);
      if (line !== null) err(`${line}\n`);
    },
    result(value, human) {
      if (json) out(`${JSON.stringify(value, null, 2)}\n`);
      else
        out(
          human()
            .map((line) => `${line}\n`)
            .join(''),
        );
    },
    fail(error) {
      const failure = unwrap(error);
      if (json) {
        const cleanup =
          failure.cleanup.length === 0 ? {} : { cleanupErrors: failure.cleanup.map(envelope) };
        out(`${JSON.stringify({ error: envelope(failure.primary), ...cleanup }, null, 2)}\n`);
      } else {
        err(renderError(failure.primary, { cwd: io.cwd, migrationsDir }));
        for (const cleanup of failure.cleanup)
          err(`also, cleaning up failed:\n${renderError(cleanup, { cwd: io.cwd, migrationsDir })}`);
      }
      return failure.primary instanceof UsageError ? EXIT_USAGE : exitCodeFor(failure.primary.code);
    },
  };
}

type Failure = OffloopError | UsageError;

/**
 * The failure to report and the cleanup failures that came after it. A failure during cleanup
 * (releasing the lock in the worker, closing the migrator, stopping PostgreSQL) arrives as a
 * `SuppressedError`, nested once per failing cleanup step, or in the error's `suppressed`; it
 * never hides the original failure, whose code gives the exit code.
 */
function unwrap(error: unknown): { primary: Failure; cleanup: Failure[] } {
  const { primary, suppressed } = primaryFailure(error);
  return { primary: asFailure(primary), cleanup: suppressed.map(asFailure) };
}

function asFailure(error: unknown): Failure {
  if (error instanceof UsageError || isOffloopError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InternalError(`Unexpected error: ${message}`, {}, { cause: error });
}

/**
 * The error as JSON, without the failures it suppressed (they are `cleanupErrors`). Stack traces
 * only for the codes that mean a bug, where they help a report.
 */
function envelope(error: Failure): ReturnType<UsageError['toJSON']> | ErrorEnvelope {
  const data = error instanceof UsageError ? error.toJSON() : withoutSuppressed(toEnvelope(error));
  return data.code === 'INTERNAL_ERROR' || data.code === 'WORKER_FAILED'
    ? data
    : withoutStacks(data);
}

function withoutSuppressed({ suppressed: _, ...envelope }: ErrorEnvelope): ErrorEnvelope {
  return envelope;
}

function withoutStacks<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutStacks) as T;
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => key !== 'stack')
      .map(([key, entry]) => [key, withoutStacks(entry)]),
  ) as T;
}

/** The human line for a progress event, or null for events that need none. */
export function renderProgress(event: ProgressEvent): string | null {
  switch (event.type) {
    case 'run:started':
    case 'plan:ready':
    case 'run:finished':
    case 'migration:backend':
    case 'migration:loading':
      return null;
    case 'lock:waiting': {
      const holder =
        event.holderPid === null ? '' : ` (held by PostgreSQL backend ${event.holderPid})`;
      return event.waitedMs < 1000
        ? `offloop: waiting for the migration lock${holder}, up to ${formatDuration(event.timeoutMs)}`
        : `offloop: still waiting for the migration lock${holder}: ${formatDuration(event.waitedMs)} of ${formatDuration(event.timeoutMs)}`;
    }
    case 'lock:acquired':
      return event.waitedMs >= 1000
        ? `offloop: got the migration lock after ${formatDuration(event.waitedMs)}`
        : null;
    case 'lock:orphans':
      return `offloop: an earlier run lost the migration lock (killed, or its connection dropped) while PostgreSQL backend${event.pids.length === 1 ? '' : 's'} ${event.pids.join(', ')} still ran its work; ended ${event.pids.length === 1 ? 'it' : 'them'} before starting`;
    case 'migration:started': {
      const what = `${event.direction === 'down' ? 'down ' : ''}${event.file}`;
      return `[${event.index}/${event.total}] ${what}${event.transactional ? '' : ' (transaction:false, one statement at a time)'} ...`;
    }
    case 'migration:blocked': {
      const holders = event.blockedBy.map((holder) => {
        const what = [
          holder.applicationName === '' ? null : holder.applicationName,
          holder.state,
          holder.transactionMs === null
            ? null
            : `transaction open ${formatDuration(holder.transactionMs)}`,
        ].filter((part) => part !== null);
        return `backend ${holder.pid}${what.length === 0 ? '' : ` (${what.join(', ')})`}`;
      });
      const who = holders.length === 0 ? '' : `, held up by ${holders.join(' and ')}`;
      const why =
        event.lockType === 'virtualxid'
          ? ' (a concurrent index build waits for every transaction older than it, on any table)'
          : '';
      return `      waiting for a lock (${event.lockType}) for ${formatDuration(event.waitedMs)}${who}${why}`;
    }
    case 'migration:progress': {
      const fraction =
        event.done === null
          ? ''
          : event.total === null
            ? ` (${event.done})`
            : ` (${event.done}/${event.total})`;
      return `      ${event.message}${fraction}`;
    }
    case 'migration:finished':
      return `[${event.index}/${event.total}] ${event.direction === 'down' ? `down ${event.file} reverted` : `${event.file} applied`} in ${formatDuration(event.durationMs)}`;
  }
}

type ErrorContext = { readonly cwd: string; readonly migrationsDir: string | null };

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
    'another session held a lock this statement needed; retry when it is idle, or raise the limit with a lock_timeout marker option or --statement-lock-timeout',
  STATEMENT_TIMEOUT:
    'raise the limit with a statement_timeout marker option or --statement-timeout, or make the statement cheaper',
  MIGRATION_TIMEOUT: 'raise --migration-timeout, or split the migration',
};

/** SQLSTATEs of a failed `up` that mean the object exists already: often a database that predates offloop. */
const ALREADY_EXISTS = new Set(['42P07', '42710', '42701', '42723', '42P06']);

function remedyFor(error: OffloopError, details: Record<string, unknown>): string | undefined {
  if (error.code === 'MIGRATION_FAILED' && details.sqlstate === '25001') {
    return `this statement cannot run inside a transaction: add transaction:false to the marker line ("-- migrate:${details.direction === 'down' ? 'down' : 'up'} transaction:false"), ideally with the statement alone in its migration`;
  }
  if (
    error.code === 'MIGRATION_FAILED' &&
    details.direction === 'up' &&
    ALREADY_EXISTS.has(String(details.sqlstate)) &&
    Array.isArray(details.applied) &&
    details.applied.length === 0
  ) {
    return 'if the database already had this schema before offloop managed it, adopt it instead of running the migrations again: offloop stamp <version> records the migrations up to <version> as applied without running them';
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
  const number = String(line);
  const gutter = ' '.repeat(number.length);
  // A window around the column, control characters escaped: see code-frame.ts.
  const frame = frameLine(text, col);
  out.push(`  ${gutter} |`, `  ${number} | ${frame.text}`);
  if (frame.pad !== null) out.push(`  ${gutter} | ${frame.pad}^`);
  return out;
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

/**
 * Removes passwords from printed text: of any `postgres://user:password@` URL, of `password=`
 * parameters, and of the URLs the configuration named, wherever they appear.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  /** Also redact this URL's password wherever it appears on its own. */
  add(url: string): void {
    let password: string;
    try {
      password = new URL(url).password;
    } catch {
      return;
    }
    if (password === '') return;
    // A password that is short, or that also occurs in the rest of the URL (the embedded
    // server's postgres:postgres), would blank out ordinary text; the URL patterns still
    // catch it inside URLs.
    const rest = redactUrl(url);
    for (const form of new Set([
      password,
      safeDecode(password),
      JSON.stringify(safeDecode(password)).slice(1, -1),
    ])) {
      if (form.length >= 6 && !rest.includes(form)) this.#secrets.add(form);
    }
  }

  redact(text: string): string {
    let result = text
      .replace(/(postgres(?:ql)?:\/\/[^\s:@/]*:)[^\s@/]*@/gi, '$1***@')
      .replace(/([?&](?:ssl)?password=)[^&\s"']*/gi, '$1***');
    for (const secret of this.#secrets) result = result.split(secret).join('***');
    return result;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
