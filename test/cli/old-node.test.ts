/**
 * offloop on a Node.js older than it needs, as a user meets it: the published JavaScript (each
 * package compiled as `pnpm build` does, in a `node_modules` of its own, `test/helpers/published.ts`)
 * run by a real old Node, the machine's own (Node 20 here; `OFFLOOP_OLD_NODE` names another). The
 * CLI says which Node it needs and exits 1; every package entry, imported or required, throws
 * NODE_VERSION_UNSUPPORTED before any other of its modules runs. On the Node that runs the tests,
 * the same installation loads and the CLI runs.
 */
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import {
  NODE_VERSION_UNSUPPORTED,
  REQUIRED_NODE_MAJOR,
} from '../../packages/core/src/node-version.ts';
import { exec, type Result } from '../helpers/cli.ts';
import { findOldNode, installPublished } from '../helpers/published.ts';

/** Every entry point the packages publish. */
const ENTRIES = [
  'offloop',
  '@offloop/core',
  '@offloop/core/engine',
  '@offloop/worker',
  '@offloop/testing',
  '@offloop/embedded-postgres',
];

const oldNode = await findOldNode(REQUIRED_NODE_MAJOR);
const withOldNode = oldNode === null ? test.skip : test;
const skipped =
  oldNode === null
    ? ` (skipped: no Node.js older than ${REQUIRED_NODE_MAJOR} on PATH, /usr/bin or OFFLOOP_OLD_NODE)`
    : '';

let installation: Promise<string> | undefined;

/** The directory whose `node_modules` holds the published packages, installed once per file. */
function installed(): Promise<string> {
  installation ??= mkdtemp(path.join(tmpdir(), 'offloop-published-')).then(async (dir) => {
    await installPublished(dir);
    return dir;
  });
  return installation;
}

test.after.always(async () => {
  if (installation !== undefined) await rm(await installation, { recursive: true, force: true });
});

/** How loading `entry` ended, in a fresh `node` process: `{ loaded: true }` or the error's code, name and message. */
type Outcome = { loaded?: true; code?: string; name?: string; message?: string };

/** Load `entry` with `import()` (`esm`) or `require()` (`cjs`) in a fresh process of `node`. */
async function load(node: string, entry: string, how: 'esm' | 'cjs'): Promise<Outcome> {
  const load =
    how === 'esm' ? `await import(${JSON.stringify(entry)})` : `require(${JSON.stringify(entry)})`;
  const script =
    `try { ${load}; console.log(JSON.stringify({ loaded: true })) } ` +
    'catch (e) { console.log(JSON.stringify({ code: e.code, name: e.name, message: e.message })) }';
  const args = how === 'esm' ? ['--input-type=module', '-e', script] : ['-e', script];
  const result = await exec(node, args, { cwd: await installed() });
  return JSON.parse(result.stdout) as Outcome;
}

/** Run the published `offloop` executable with `node`. */
async function runBin(node: string, args: readonly string[]): Promise<Result> {
  const dir = await installed();
  return exec(node, [path.join(dir, 'node_modules/offloop/dist/bin.js'), ...args], { cwd: dir });
}

withOldNode(
  `the CLI on an old Node says which Node it needs, which one this is, how to get it, and exits 1${skipped}`,
  async (t) => {
    if (oldNode === null) return;
    t.log(`old Node: ${oldNode.path} (${oldNode.version})`);
    const result = await runBin(oldNode.path, ['status']);
    t.is(result.code, 1);
    t.is(result.stdout, '');
    const execPath = await realpath(oldNode.path);
    t.deepEqual(result.stderr.split('\n'), [
      `error[${NODE_VERSION_UNSUPPORTED}]: offloop needs Node.js ${REQUIRED_NODE_MAJOR} or newer; ` +
        `this is Node.js ${oldNode.version} (${execPath}).`,
      `  = help: install Node.js ${REQUIRED_NODE_MAJOR} (\`nvm install ${REQUIRED_NODE_MAJOR}\`, ` +
        'or from https://nodejs.org) and run offloop with it.',
      '',
    ]);
  },
);

withOldNode(
  `every package entry, imported on an old Node, throws ${NODE_VERSION_UNSUPPORTED} first${skipped}`,
  async (t) => {
    if (oldNode === null) return;
    const outcomes = await Promise.all(ENTRIES.map((entry) => load(oldNode.path, entry, 'esm')));
    for (const [index, outcome] of outcomes.entries()) {
      t.like(
        outcome,
        { code: NODE_VERSION_UNSUPPORTED, name: 'NodeVersionError' },
        `import('${ENTRIES[index]}')`,
      );
      t.true(outcome.message?.includes(`needs Node.js ${REQUIRED_NODE_MAJOR} or newer`));
      t.true(outcome.message?.includes(`this is Node.js ${oldNode.version}`));
    }
  },
);

withOldNode(
  `require() of every package entry on an old Node throws ${NODE_VERSION_UNSUPPORTED} too (ERR_REQUIRE_ESM before Node 20.19)${skipped}`,
  async (t) => {
    if (oldNode === null) return;
    // Node 20.19 and 22.12 load ES modules with require(); earlier ones refuse, with their own code.
    const requiresModules = await exec(oldNode.path, ['-p', 'process.features.require_module']);
    const expected =
      requiresModules.stdout.trim() === 'true' ? NODE_VERSION_UNSUPPORTED : 'ERR_REQUIRE_ESM';
    const outcomes = await Promise.all(ENTRIES.map((entry) => load(oldNode.path, entry, 'cjs')));
    for (const [index, outcome] of outcomes.entries())
      t.is(outcome.code, expected, `require('${ENTRIES[index]}')`);
  },
);

test('on the Node that runs the tests, the same installation loads every entry and runs the CLI', async (t) => {
  for (const how of ['esm', 'cjs'] as const) {
    const outcomes = await Promise.all(ENTRIES.map((entry) => load(process.execPath, entry, how)));
    for (const [index, outcome] of outcomes.entries())
      t.deepEqual(outcome, { loaded: true }, `${how}: ${ENTRIES[index]}`);
  }
  const version = await runBin(process.execPath, ['--version']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /^\d+\.\d+\.\d+/);
});
