/**
 * `up --sql` and `down --sql`: print the exact script the command would run, and nothing else,
 * on stdout. With `--from` no database is needed at all: none is read, none is started.
 */
import type { SqlResult } from '@offloop/core';
import type { DatabaseCall } from './database-command.ts';

/** What the script covers. */
export type ScriptRequest = {
  readonly direction: 'up' | 'down';
  readonly to: string | undefined;
  readonly step: number | undefined;
  readonly allowOutOfOrder: boolean | undefined;
  readonly timeout: number | undefined;
  /** The version to take the database to be at (`--from`); then the call is offline. */
  readonly from: string | undefined;
};

/** The `sql()` call for `request`, printed as the script (or, with `--json`, the result with its steps). */
export function sqlScriptCall(request: ScriptRequest): DatabaseCall<SqlResult> {
  return {
    offline: request.from !== undefined,
    call: (migrator, { signal }) => migrator.sql({ ...request, signal }),
    render: (result) => [result.script.replace(/\n$/, '')],
  };
}
