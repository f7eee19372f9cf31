/**
 * Everything the CLI prints goes through here: human text, or with `--json` exactly one JSON
 * document on stdout (the result, or `{ "error": envelope }`). Progress and notices go to
 * stderr. The pieces, one job each: the redacted streams (`sink.ts`), what a failure is
 * reported as (`errors.ts`), how it reads (`render-error.ts`), progress lines (`progress.ts`), and lint findings (`lint.ts`).
 */
import { count, type LintFinding, type ProgressEvent } from '@offloop/core';
import type { Io } from '../io.ts';
import { EXIT_USAGE, exitCodeFor } from '../exit-codes.ts';
import { UsageError } from '../flags/usage-error.ts';
import { envelope, unwrap, type Failure } from './errors.ts';
import { renderProgress } from './progress.ts';
import { renderFindings, severityCounts } from './lint.ts';
import { renderError } from './render-error.ts';
import { createSink } from './sink.ts';

/** Output of one command run. */
export type Output = {
  /** Whether `--json` was given. */
  readonly json: boolean;
  /** Whether stderr is a terminal, where a line can be redrawn in place ({@link Output.live}). */
  readonly terminal: boolean;
  /** Redact these URLs' passwords (and the URLs themselves) from everything printed from now on. */
  addSecrets(urls: readonly string[]): void;
  /** Where the migration files are, to show the failing line of one. */
  setMigrationsDir(dir: string): void;
  /** One `offloop: ...` line on stderr, in both modes. */
  notice(message: string): void;
  /** `offloop: warning: ...` and the error on stderr, in both modes; does not change the exit code. */
  warning(message: string, error: unknown): void;
  /** Progress lines (each ending in a line break) on stderr in human mode; nothing with `--json`. */
  progressLines(lines: readonly string[]): void;
  /**
   * On a terminal in human mode, a line redrawn in place at the bottom of stderr (a progress
   * bar), under everything else printed there; null takes it away. Elsewhere, nothing.
   */
  live(line: string | null): void;
  /** A progress event, as a line on stderr in human mode; nothing with `--json`. */
  progress(event: ProgressEvent): void;
  /** The command's result: `value` as JSON with `--json`, else the human lines on stdout. */
  result(value: unknown, human: () => readonly string[]): void;
  /** Report a failure (stderr in human mode, `{ "error": ... }` on stdout with `--json`) and return the exit code. */
  fail(error: unknown): number;
};

/** Create the output of one run. */
export function createOutput(io: Io, json: boolean): Output {
  const sink = createSink(io);
  let migrationsDir: string | null = null;
  const render = (error: Failure): string => renderError(error, { cwd: io.cwd, migrationsDir });

  return {
    json,
    terminal: io.stderr.isTTY === true,
    addSecrets(urls) {
      for (const url of urls) sink.addSecret(url);
    },
    setMigrationsDir(dir) {
      migrationsDir = dir;
    },
    notice(message) {
      sink.err(`offloop: ${message}\n`);
    },
    warning(message, error) {
      const { primary, cleanup } = unwrap(error);
      sink.err(`offloop: warning: ${message}:\n${[primary, ...cleanup].map(render).join('')}`);
    },
    progressLines(lines) {
      if (json || lines.length === 0) return;
      sink.err(lines.map((line) => `${line}\n`).join(''));
    },
    live(line) {
      if (!json) sink.live(line);
    },
    progress(event) {
      if (json) return;
      if (event.type === 'lint:findings') {
        sink.err(lintWarnings(event.findings, event.failed, { cwd: io.cwd, migrationsDir }));
        return;
      }
      const line = renderProgress(event);
      if (line !== null) sink.err(`${line}\n`);
    },
    result(value, human) {
      if (json) sink.out(`${JSON.stringify(value, null, 2)}\n`);
      else
        sink.out(
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
        sink.out(`${JSON.stringify({ error: envelope(failure.primary), ...cleanup }, null, 2)}\n`);
      } else {
        sink.err(render(failure.primary));
        for (const cleanup of failure.cleanup)
          sink.err(`also, cleaning up failed:\n${render(cleanup)}`);
      }
      return failure.primary instanceof UsageError ? EXIT_USAGE : exitCodeFor(failure.primary.code);
    },
  };
}

/** Lint findings before a run (`up`, `check`), on stderr: each with its frame, then what happens. */
function lintWarnings(
  findings: readonly LintFinding[],
  failed: boolean,
  context: { readonly cwd: string; readonly migrationsDir: string | null },
): string {
  const lines = renderFindings(findings, {
    cwd: context.cwd,
    migrationsDir: context.migrationsDir ?? context.cwd,
  });
  const what = `${count(findings.length, 'lint finding')} (${severityCounts(findings)})`;
  const next = failed
    ? 'the run is strict: nothing runs'
    : 'running anyway (--strict or lint.strict refuses)';
  return `offloop: warning: ${what} in the pending migrations; ${next}:\n${lines.map((line) => `${line}\n`).join('')}`;
}
