import test from 'ava';
import { packageScopeOf } from '@offloop/core';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

/** A temporary directory holding `files` (relative path to content). */
async function tree(t: ExecutionContext, files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'offloop-scope-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(root, name, '..'), { recursive: true });
    await writeFile(join(root, name), content);
  }
  return root;
}

test('the nearest package.json above a directory decides, even one that does not exist yet', async (t) => {
  const root = await tree(t, {
    'package.json': '{ "type": "commonjs" }',
    'esm/package.json': '{ "name": "esm", "type": "module" }',
  });
  t.deepEqual(await packageScopeOf(join(root, 'db', 'migrations')), {
    packageJson: join(root, 'package.json'),
    type: 'commonjs',
  });
  t.deepEqual(await packageScopeOf(join(root, 'esm', 'migrations')), {
    packageJson: join(root, 'esm', 'package.json'),
    type: 'module',
  });
});

test('the walk stops at the first package.json, with or without a "type" Node knows', async (t) => {
  const root = await tree(t, {
    'package.json': '{ "type": "module" }',
    'typeless/package.json': '{ "name": "typeless" }',
    'other/package.json': '{ "type": "esm" }',
    'broken/package.json': '{ "type": ',
  });
  for (const name of ['typeless', 'other', 'broken'])
    t.deepEqual(
      await packageScopeOf(join(root, name, 'migrations')),
      { packageJson: join(root, name, 'package.json'), type: null },
      name,
    );
});

test('like Node, the walk never reads node_modules/package.json and stops at node_modules', async (t) => {
  const root = await tree(t, {
    'package.json': '{ "type": "module" }',
    'node_modules/package.json': '{ "type": "commonjs" }',
    'node_modules/dep/package.json': '{ "type": "commonjs" }',
  });
  t.deepEqual(await packageScopeOf(join(root, 'node_modules', 'migrations')), {
    packageJson: null,
    type: null,
  });
  t.is((await packageScopeOf(join(root, 'node_modules', 'dep', 'x'))).type, 'commonjs');
});
