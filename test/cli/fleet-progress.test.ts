/**
 * `fleet up`'s progress with no process: on a terminal a bar redrawn in place under permanent
 * lines; elsewhere a line per target that did something; with `--json`, nothing.
 */
import test from 'ava';
import type { FleetEvent, TargetResult } from '@offloop/core';
import type { Io } from '../../packages/cli/src/io.ts';
import { FleetProgress } from '../../packages/cli/src/output/fleet-progress.ts';
import { createOutput } from '../../packages/cli/src/output/output.ts';

const CLEAR = '\r\u001b[2K';

function io(terminal: boolean): Io & { readonly err: () => string } {
  let stderr = '';
  return {
    stdout: { write: () => true },
    stderr: {
      write: (chunk: string) => (stderr += chunk),
      isTTY: terminal,
      columns: terminal ? 100 : 0,
    },
    env: {},
    cwd: '/',
    err: () => stderr,
  };
}

function result(target: string, overrides: Partial<TargetResult> = {}): TargetResult {
  return {
    target,
    database: 'app',
    schema: target,
    outcome: 'applied',
    applied: [
      {
        version: '20260101000000',
        name: 'items',
        file: '20260101000000_items.sql',
        direction: 'up',
        durationMs: 3,
      },
    ],
    version: '20260101000000',
    durationMs: 12,
    canary: false,
    error: null,
    ...overrides,
  };
}

const failed = result('tenant_3', {
  outcome: 'failed',
  applied: [],
  version: null,
  error: { code: 'MIGRATION_FAILED', message: 'division by zero\nmore detail' },
});

const EVENTS: FleetEvent[] = [
  { type: 'fleet:planned', total: 5, upToDate: 2, toRun: 3, canaries: ['tenant_1'] },
  { type: 'target:started', target: 'tenant_1', canary: true },
  { type: 'target:finished', result: result('tenant_1', { canary: true }) },
  { type: 'target:started', target: 'tenant_2', canary: false },
  { type: 'target:started', target: 'tenant_3', canary: false },
  { type: 'target:finished', result: result('tenant_2') },
  { type: 'target:finished', result: failed },
  { type: 'fleet:stopping', reason: 'failures', running: 0 },
  { type: 'fleet:stopping', reason: 'failures', running: 0 },
  {
    type: 'fleet:finished',
    counts: { total: 5, applied: 2, 'up-to-date': 2, failed: 1, cancelled: 0, 'not-run': 0 },
    stopped: 'failures',
  },
];

function run(terminal: boolean, json = false): string {
  const streams = io(terminal);
  const output = createOutput(streams, json);
  let now = 0;
  {
    using progress = new FleetProgress(output, () => (now += 500));
    for (const event of EVENTS) progress.onProgress(event);
  }
  return streams.err();
}

test('on a terminal: a bar redrawn in place, permanent lines above it for the canary and each failure, gone at the end', (t) => {
  const stderr = run(true);
  // What is left on the screen: every redraw replaces the line it is on.
  const screen = stderr
    .split('\n')
    .map((line) => line.split(CLEAR).at(-1) ?? '')
    .filter((line) => line !== '');
  t.deepEqual(screen, [
    'fleet: 5 targets: 2 up to date, 3 to run; canary first: tenant_1',
    '✓ canary tenant_1: applied 1 migration in 12 ms, now at 20260101000000',
    '✗ tenant_3: MIGRATION_FAILED: division by zero',
    'fleet: stopping after a failure (--on-error, --max-failures): no more targets start; those in flight finish',
  ]);
  t.regex(stderr, /\[█{16}░{8}\] 2\/3 targets · 1 running · \S+\/s · ETA \S+/);
  t.regex(stderr, /3\/3 targets · 1 failed/);
  t.false(stderr.includes('tenant_2:'), 'a target that applied is counted on the bar, not listed');
  t.true(stderr.endsWith(CLEAR), 'the bar is taken away at the end');
});

test('without a terminal: no bar, a line per target that applied something or failed', (t) => {
  const stderr = run(false);
  t.false(stderr.includes('\r'));
  t.deepEqual(stderr.trimEnd().split('\n'), [
    'fleet: 5 targets: 2 up to date, 3 to run; canary first: tenant_1',
    '✓ canary tenant_1: applied 1 migration in 12 ms, now at 20260101000000',
    '✓ tenant_2: applied 1 migration in 12 ms, now at 20260101000000',
    '✗ tenant_3: MIGRATION_FAILED: division by zero',
    'fleet: stopping after a failure (--on-error, --max-failures): no more targets start; those in flight finish',
  ]);
});

test('with --json, no progress at all, on a terminal or not', (t) => {
  t.is(run(true, true), '');
  t.is(run(false, true), '');
});
