/**
 * The command line could not be understood: an unknown command, or missing or extra arguments.
 */
import type { ConfigIssue } from '@offloop/core';
import type { ParsedArgs } from './spec.ts';

/**
 * The command line could not be understood: an unknown command, or missing or extra arguments.
 * Not an offloop error code of its own: it is the CLI's, and has its own exit code.
 */
export class UsageError extends Error {
  /** Shown in `--json` output as the error's `code`. */
  readonly code = 'USAGE';
  /** Every problem found, the flags' included. */
  readonly issues: readonly ConfigIssue[];
  /** The command whose help to point at, if known. */
  readonly command: string | null;

  constructor(message: string, issues: readonly ConfigIssue[], command: string | null) {
    super(message);
    this.name = 'UsageError';
    this.issues = issues;
    this.command = command;
  }

  /** The error as `--json` prints it, shaped like an offloop error envelope. */
  toJSON(): {
    code: 'USAGE';
    message: string;
    details: { issues: readonly ConfigIssue[]; command: string | null };
  } {
    return {
      code: this.code,
      message: this.message,
      details: { issues: this.issues, command: this.command },
    };
  }
}

/** A {@link UsageError} listing the positional problems and the flag problems together. */
export function usageError(
  command: string,
  positionalIssues: readonly ConfigIssue[],
  parsed: Pick<ParsedArgs, 'issues'>,
): UsageError {
  const issues = [...positionalIssues, ...parsed.issues];
  return new UsageError(
    `Invalid command line for offloop ${command}: ` +
      issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '),
    issues,
    command,
  );
}

/** Problems for arguments a command does not take. */
export function unexpectedArguments(
  command: string,
  positionals: readonly string[],
): ConfigIssue[] {
  return positionals.map((value) => ({
    path: value,
    message: `unexpected argument: offloop ${command} takes no arguments`,
  }));
}
