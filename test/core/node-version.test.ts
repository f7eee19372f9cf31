/** core's Node.js version check (`node-version.ts`), with no process: the comparison and the error. */
import { readFile } from 'node:fs/promises';
import test from 'ava';
import {
  assertSupportedNode,
  isSupportedNode,
  NODE_VERSION_UNSUPPORTED,
  NodeVersionError,
  REQUIRED_NODE_MAJOR,
} from '../../packages/core/src/node-version.ts';

const PACKAGES = ['core', 'worker', 'testing', 'embedded-postgres', 'cli'];

test('Node 24.0 and newer are supported, with or without a leading v', (t) => {
  for (const version of ['24.0.0', '24.22.3', 'v24.1.0', '25.2.1', '30.0.0-pre'])
    t.true(isSupportedNode(version), version);
});

test('older Node.js versions are not, whatever their minor', (t) => {
  for (const version of ['23.11.0', 'v22.18.0', '20.20.2', '18.0.0', '0.10.48'])
    t.false(isSupportedNode(version), version);
});

test('a version that is not a number is let through: the check explains an old Node only', (t) => {
  for (const version of ['', 'unknown', 'v'])
    t.true(isSupportedNode(version), JSON.stringify(version));
});

test('on an old Node the error has its code, the versions, where it runs and how to fix it', (t) => {
  const error = t.throws(() => assertSupportedNode('20.20.2', '/usr/bin/node'), {
    instanceOf: NodeVersionError,
  });
  t.is(error.code, NODE_VERSION_UNSUPPORTED);
  t.is(error.name, 'NodeVersionError');
  t.deepEqual(error.details, { version: '20.20.2', required: '>=24', execPath: '/usr/bin/node' });
  t.regex(
    error.message,
    /needs Node\.js 24 or newer; this is Node\.js 20\.20\.2 \(\/usr\/bin\/node\)/,
  );
  t.regex(error.message, /nvm install 24/);
  t.notThrows(() => assertSupportedNode(process.versions.node, process.execPath));
});

test("the packages' engines and the CLI's own check name the same Node.js as core", async (t) => {
  const root = new URL('../../', import.meta.url);
  for (const name of ['.', ...PACKAGES.map((folder) => `packages/${folder}`)]) {
    const manifest = JSON.parse(await readFile(new URL(`${name}/package.json`, root), 'utf8')) as {
      engines?: { node?: string };
    };
    t.is(manifest.engines?.node, `>=${REQUIRED_NODE_MAJOR}`, `${name}/package.json engines.node`);
  }
  // bin.ts cannot import core (it checks before anything is loaded): it repeats the number.
  const bin = await readFile(new URL('packages/cli/src/bin.ts', root), 'utf8');
  t.regex(bin, new RegExp(`^const REQUIRED_NODE_MAJOR = ${REQUIRED_NODE_MAJOR};$`, 'm'));
});
