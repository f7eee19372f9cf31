/** The worker host's pure parts, with no thread and no database: entry URLs, crash and stop errors. */
import test from 'ava';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  MigrationTimeoutError,
  MigratorClosedError,
  RunAbortedError,
  RunTimeoutError,
  WorkerFailedError,
  WorkerOutOfMemoryError,
  WorkerUnresponsiveError,
} from '@offloop/core';
import { crashError, describeCrash, type InFlight } from '../../packages/worker/src/host/crash.ts';
import {
  stopError,
  terminatedError,
  type StopReason,
} from '../../packages/worker/src/host/stop.ts';
import { threadEntry } from '../../packages/worker/src/host/thread-entry.ts';

const running: InFlight = {
  version: '20240101000000',
  name: 'a',
  file: '20240101000000_a.sql',
  direction: 'up',
  transactional: true,
  checksum: 'x',
  startedAt: 0,
};

test('the thread entries the host loads by URL exist in thread/', (t) => {
  for (const name of ['worker-boot', 'cancel-entry'] as const) {
    const file = fileURLToPath(threadEntry(name));
    t.regex(file, new RegExp(`/thread/${name}\\.ts$`));
    t.true(existsSync(file), file);
  }
});

test('a crash is named by its error code, the exit code and the migrator state, not by message text', (t) => {
  const outOfMemory = Object.assign(new Error('out of memory'), {
    code: 'ERR_WORKER_OUT_OF_MEMORY',
  });
  t.is(describeCrash(outOfMemory, 1, false).kind, 'out-of-memory');
  t.is(describeCrash(new Error('gone'), null, true).kind, 'closed');
  const exited = describeCrash(new Error('worker exited with code: 3'), 3, false);
  t.is(exited.kind, 'failed');
  t.regex(exited.reason, /exited with code 3 \(did a migration call process\.exit\(\)\?\)/);
  // A message that looks like an exit, from a thread that failed with an error of its own.
  const thrown = describeCrash(new Error('worker exited with code: 3'), null, false);
  t.is(thrown.reason, 'worker exited with code: 3');
});

test('crash errors carry their class and code and say where the thread died', (t) => {
  const base = { error: new Error('x'), kept: [], loading: null, outcome: null } as const;
  const failed = crashError({ ...base, crash: describeCrash(new Error('x'), 1, false), running });
  t.true(failed instanceof WorkerFailedError);
  t.is(failed.code, 'WORKER_FAILED');
  t.regex(failed.message, /while 20240101000000_a\.sql ran/);
  const oom = crashError({
    ...base,
    crash: { kind: 'out-of-memory', reason: 'x', logLine: '' },
    running: null,
  });
  t.true(oom instanceof WorkerOutOfMemoryError);
  const closed = crashError({
    ...base,
    crash: { kind: 'closed', reason: '', logLine: '' },
    running,
  });
  t.true(closed instanceof MigratorClosedError);
});

test('each stop reason has its own error', (t) => {
  const cases: [StopReason, new (...args: never[]) => Error][] = [
    [{ kind: 'abort', cause: 'user' }, RunAbortedError],
    [{ kind: 'timeout', timeoutMs: 10 }, RunTimeoutError],
    [{ kind: 'closed' }, MigratorClosedError],
    [{ kind: 'migration-timeout', migration: running, timeoutMs: 10 }, MigrationTimeoutError],
  ];
  for (const [reason, Class] of cases) t.true(stopError(reason, [], undefined) instanceof Class);
});

test('a terminated thread: WORKER_UNRESPONSIVE caused by the stop; a failed cleanup is attached', (t) => {
  const base = { graceMs: 5, kept: [], what: '', cleanupErrors: [] } as const;
  const unresponsive = terminatedError({ ...base, reason: { kind: 'timeout', timeoutMs: 10 } });
  t.true(unresponsive instanceof WorkerUnresponsiveError);
  t.true(unresponsive.cause instanceof RunTimeoutError);
  const reason = { kind: 'migration-timeout', migration: running, timeoutMs: 10 } as const;
  t.true(terminatedError({ ...base, reason }) instanceof MigrationTimeoutError);
  const suppressed = terminatedError({ ...base, reason, cleanupErrors: ['refused'] });
  t.true(suppressed instanceof SuppressedError);
  t.true((suppressed as SuppressedError).suppressed instanceof MigrationTimeoutError);
});
