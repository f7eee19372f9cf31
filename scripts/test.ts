/**
 * The test runner behind `./dev test` (`pnpm test`): provides a PostgreSQL server, runs ava with
 * its TAP reporter and ends with one plain line, `N passed, N failed`, that CI can read.
 *
 * Without `TEST_DATABASE_URL` it starts a throwaway embedded PostgreSQL for the run and hands its
 * URL to the tests; with it, the tests use that server. Extra arguments go to ava unchanged:
 * `./dev test test/core/plan.test.ts --match='*lock*'`.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../packages/embedded-postgres/src/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What the TAP stream said; see {@link summarise}. */
type TapCounts = {
  pass: number | undefined;
  fail: number | undefined;
  ok: number;
  notOk: number;
  todo: number;
};

async function main(): Promise<number> {
  const tap: TapCounts = { pass: undefined, fail: undefined, ok: 0, notOk: 0, todo: 0 };
  let embedded: EmbeddedPostgres | undefined;
  let tempDir: string | undefined;
  let interrupted = false;
  let avaExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stopAva: ((signal: NodeJS.Signals) => void) | undefined;

  // Ctrl-C reaches the whole process group (ava and PostgreSQL too); a signal sent to this
  // process alone must be passed on. Either way: let ava finish, then stop the server below.
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) stopAva?.('SIGKILL');
    else stopAva?.(signal);
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    let databaseUrl = process.env['TEST_DATABASE_URL'];
    if (databaseUrl === undefined || databaseUrl === '') {
      // mkdtemp makes a 0700 directory; as root the server runs as `postgres`, which must reach it.
      tempDir = await mkdtemp(path.join(os.tmpdir(), 'offloop-test-'));
      await chmod(tempDir, 0o755);
      embedded = await startEmbeddedPostgres({
        dataDir: path.join(tempDir, 'pg'),
        persistent: false,
      });
      databaseUrl = embedded.url;
      console.log(
        `[test] database: embedded PostgreSQL ${embedded.version} at ${redact(databaseUrl)} (throwaway, in ${embedded.dataDir})`,
      );
    } else {
      console.log(`[test] database: TEST_DATABASE_URL ${redact(databaseUrl)}`);
    }
    if (interrupted) throw new Error('interrupted before the tests started');

    const ava = spawn(
      path.join(root, 'node_modules', '.bin', 'ava'),
      ['--tap', ...process.argv.slice(2)],
      {
        cwd: root,
        stdio: ['inherit', 'pipe', 'inherit'],
        env: {
          ...process.env,
          TEST_DATABASE_URL: databaseUrl,
          // The ava shim runs the first `node` on PATH: make it this one (Node 24).
          PATH: [path.dirname(process.execPath), process.env['PATH'] ?? ''].join(path.delimiter),
        },
      },
    );
    stopAva = (signal) => {
      if (ava.exitCode === null && ava.signalCode === null) ava.kill(signal);
    };
    let pending = '';
    ava.stdout.setEncoding('utf8');
    ava.stdout.on('data', (chunk: string) => {
      process.stdout.write(chunk);
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) readTapLine(line, tap);
    });
    avaExit = await new Promise((resolve, reject) => {
      ava.once('error', reject);
      ava.once('close', (code, signal) => resolve({ code, signal }));
    });
    readTapLine(pending, tap);
  } catch (error) {
    console.error(`[test] ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    try {
      await embedded?.stop();
    } catch (error) {
      console.error(`[test] ${error instanceof Error ? error.message : String(error)}`);
    }
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  }

  const { passed, failed } = summarise(tap, avaExit, interrupted);
  console.log(`${String(passed)} passed, ${String(failed)} failed`);
  if (interrupted) return 130;
  return failed > 0 ? 1 : 0;
}

/** One line of ava's TAP output: `ok 3 - title [# SKIP]`, `not ok 4 - title [# TODO]`, `# pass 12`. */
function readTapLine(line: string, tap: TapCounts): void {
  const summary = /^# (pass|fail) (\d+)\s*$/.exec(line);
  if (summary?.[1] === 'pass') tap.pass = Number(summary[2]);
  else if (summary?.[1] === 'fail') tap.fail = Number(summary[2]);
  else if (/^not ok \d+\b/.test(line)) {
    if (/# TODO\s*$/.test(line)) tap.todo += 1;
    else tap.notOk += 1;
  } else if (/^ok \d+\b/.test(line) && !/# SKIP\s*$/.test(line)) tap.ok += 1;
}

/**
 * ava's `# pass` excludes skipped tests; its `# fail` includes crashed files and todo tests.
 * A todo is not a failure (ava exits 0 for it), so it is taken out again. When ava ends without a
 * summary (it crashed, or was interrupted), count the results seen plus one failure; when it
 * exits non-zero with nothing failed (a bad config, a file that would not exit), count one.
 */
function summarise(
  tap: TapCounts,
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined,
  interrupted: boolean,
): { passed: number; failed: number } {
  let passed: number;
  let failed: number;
  if (tap.pass !== undefined && tap.fail !== undefined) {
    passed = tap.pass;
    failed = Math.max(0, tap.fail - tap.todo);
  } else {
    passed = tap.ok;
    failed = tap.notOk + 1;
  }
  const avaFailed = exit === undefined || exit.code !== 0;
  if ((avaFailed || interrupted) && failed === 0) failed = 1;
  return { passed, failed };
}

/** A connection string without its password. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable connection string>';
  }
}

process.exitCode = await main();
