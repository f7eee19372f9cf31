/** The progress renderer: the line a person watching a run reads for each event, or none. */
import test from 'ava';
import type { ProgressEvent } from '@offloop/core';
import { renderProgress } from '../../packages/cli/src/output/progress.ts';

const migration = {
  version: '20260101000000',
  name: 'users',
  file: '20260101000000_users.sql',
} as const;

test('events that need no line print none', (t) => {
  const silent: ProgressEvent[] = [
    { type: 'run:started', command: 'up', dir: '/m', at: '2026-01-01T00:00:00Z' },
    { type: 'plan:ready', direction: 'up', pending: [], appliedCount: 0 },
    { type: 'run:finished', applied: 1, durationMs: 10 },
    { type: 'migration:backend', version: migration.version, pid: 7 },
    { type: 'migration:loading', version: migration.version, file: migration.file },
    { type: 'lock:acquired', lockKey: 'k', waitedMs: 999 },
  ];
  for (const event of silent) t.is(renderProgress(event), null, event.type);
});

test('waiting for the migration lock: first how long it may take, then how long it has', (t) => {
  t.is(
    renderProgress({
      type: 'lock:waiting',
      lockKey: 'k',
      waitedMs: 0,
      timeoutMs: 60_000,
      holderPid: 42,
    }),
    'offloop: waiting for the migration lock (held by PostgreSQL backend 42), up to 1 min',
  );
  t.is(
    renderProgress({
      type: 'lock:waiting',
      lockKey: 'k',
      waitedMs: 1500,
      timeoutMs: 90_000,
      holderPid: null,
    }),
    'offloop: still waiting for the migration lock: 1.5 s of 1 min 30 s',
  );
  t.is(
    renderProgress({ type: 'lock:acquired', lockKey: 'k', waitedMs: 2000 }),
    'offloop: got the migration lock after 2 s',
  );
});

test('orphaned backends of an earlier run are named, in singular and plural', (t) => {
  t.regex(
    renderProgress({ type: 'lock:orphans', pids: [9] }) ?? '',
    / backend 9 still .*ended it /,
  );
  t.regex(
    renderProgress({ type: 'lock:orphans', pids: [9, 10] }) ?? '',
    / backends 9, 10 still .*ended them /,
  );
});

test('a migration starts and finishes with its place in the run; down and transaction:false say so', (t) => {
  const started = {
    type: 'migration:started',
    ...migration,
    direction: 'up',
    index: 1,
    total: 3,
    transactional: true,
    checksum: 'c',
  } as const;
  t.is(renderProgress(started), '[1/3] 20260101000000_users.sql ...');
  t.is(
    renderProgress({ ...started, direction: 'down', transactional: false }),
    '[1/3] down 20260101000000_users.sql (transaction:false, one statement at a time) ...',
  );
  const finished = {
    type: 'migration:finished',
    ...migration,
    direction: 'up',
    durationMs: 12,
    index: 2,
    total: 3,
  } as const;
  t.is(renderProgress(finished), '[2/3] 20260101000000_users.sql applied in 12 ms');
  t.is(
    renderProgress({ ...finished, direction: 'down', durationMs: 125_000 }),
    '[2/3] down 20260101000000_users.sql reverted in 2 min 5 s',
  );
});

test("a migration's own progress is indented, with what is done of how much when it says", (t) => {
  const event = {
    type: 'migration:progress',
    version: migration.version,
    message: 'backfilling',
    done: null,
    total: null,
  } as const;
  t.is(renderProgress(event), '      backfilling');
  t.is(renderProgress({ ...event, done: 5 }), '      backfilling (5)');
  t.is(renderProgress({ ...event, done: 5, total: 10 }), '      backfilling (5/10)');
});
