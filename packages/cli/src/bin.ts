#!/usr/bin/env node
/**
 * The `offloop` executable. It checks the Node.js version before anything else is loaded, then
 * loads the CLI (`main.ts`). On an older Node the CLI's modules would fail on the first newer
 * feature they meet (`ReferenceError: SuppressedError is not defined` on Node 20), or not load at
 * all, hiding the real problem; npm only warns about the packages' `engines`. So this file imports
 * nothing that could fail there (`exit-codes.ts` has no runtime imports) and makes the check
 * itself: `@offloop/core`'s own check (`node-version.ts`) is out of its reach, behind the package's
 * entry. A test runs it on Node 20 (`test/cli/old-node.test.ts`).
 *
 * Then it turns on Node's compile cache for this process (the CLI is its own process; the library
 * never touches its host's module loading), so that later calls read compiled code from disk.
 * Node's default place and switches apply: `NODE_COMPILE_CACHE` names the directory,
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off.
 *
 * And it keeps V8 from recompiling PostgreSQL's parser (libpg-query's WebAssembly, which the
 * thread loads to split and lint SQL) with its optimizing compiler. Parsing a few dozen files
 * makes the grammar's huge functions "hot"; V8 then compiles them again in background threads:
 * measured on a 2-core machine, `offloop up` of 300 files used 3.7 s of CPU with it and 1.5 s
 * without, and of 50 files printed its summary, then waited 1.4 s for that compilation before
 * the process could exit. The baseline (Liftoff) code parses fast enough for a CLI's run. The
 * flags are the whole process's, so only the CLI asks for them (`OFFLOOP_PARSER_BASELINE`, see
 * core's `engine/parse/parser.ts`); the library leaves its host's alone (docs/benchmarks.md, "The
 * parser's tier-up"). The thread sets them when it loads the parser, not here: V8 flags changed
 * before a worker thread starts make that thread compile Node's own modules again (their cached
 * code is keyed by the flags), 40-60 ms of every command's start.
 */
import module from 'node:module';
import { EXIT_NODE_VERSION_UNSUPPORTED } from './exit-codes.ts';

/** Commands that run in the migration thread. */
const THREAD_COMMANDS = new Set([
  'up',
  'down',
  'redo',
  'status',
  'history',
  'current',
  'stamp',
  'repair',
  'check',
]);

/** As `REQUIRED_NODE_MAJOR` in `@offloop/core` and the packages' `engines` (`>=24`). */
const REQUIRED_NODE_MAJOR = 24;

const version = process.versions.node;
if (Number.parseInt(version, 10) < REQUIRED_NODE_MAJOR) {
  process.stderr.write(
    `error[NODE_VERSION_UNSUPPORTED]: offloop needs Node.js ${REQUIRED_NODE_MAJOR} or newer; ` +
      `this is Node.js ${version} (${process.execPath}).\n` +
      `  = help: install Node.js ${REQUIRED_NODE_MAJOR} (\`nvm install ${REQUIRED_NODE_MAJOR}\`, ` +
      'or from https://nodejs.org) and run offloop with it.\n',
  );
  process.exitCode = EXIT_NODE_VERSION_UNSUPPORTED;
} else {
  module.enableCompileCache();
  // The parser stays on its baseline (Liftoff) code; the threads started from here inherit it.
  process.env['OFFLOOP_PARSER_BASELINE'] ??= '1';
  // A command that migrates starts its worker thread first, so that the thread's start-up
  // overlaps with loading the CLI and reading the configuration (`@offloop/worker/early`).
  const [command, ...rest] = process.argv.slice(2);
  if (
    command !== undefined &&
    THREAD_COMMANDS.has(command) &&
    !rest.some((arg) => arg === '--help' || arg === '-h')
  ) {
    const { startEarlyThread } = await import('@offloop/worker/early');
    startEarlyThread();
  }
  await import('./main.ts');
}
