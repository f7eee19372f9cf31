/**
 * Naming a version on the command line (`plan/targets.ts`): a full version, a prefix, `base`,
 * `+N` and `-N`, resolved against the known versions. Pure: no database, no threads.
 */
import test from '../helpers/limited-test.ts';
import { TargetAmbiguousError, TargetNotFoundError } from '@offloop/core';
import { relativeSteps, resolveTarget } from '../../packages/core/src/plan/targets.ts';

const FIRST = '20260101000000';
const SECOND = '20260102000000';
const THIRD = '20260102120000';
/** In no order, with a version both on disk and applied: resolving sorts and dedupes them. */
const KNOWN = [THIRD, FIRST, SECOND, FIRST];

test('relativeSteps reads +N and -N, and nothing else', (t) => {
  t.is(relativeSteps('+2'), 2);
  t.is(relativeSteps('-1'), -1);
  t.is(relativeSteps('+0'), 0);
  t.is(relativeSteps('+02'), 2);
  t.is(relativeSteps('-10'), -10);
  for (const spec of ['2', '+', '-', '+x', '+1.5', ' +1', '+1 ', '++1', '+-1', 'base', ''])
    t.is(relativeSteps(spec), null, spec);
});

test('base is the empty database, whatever the versions', (t) => {
  t.deepEqual(resolveTarget('base', KNOWN, SECOND), { kind: 'base' });
  t.deepEqual(resolveTarget('base', [], null), { kind: 'base' });
});

test('a full version resolves to itself', (t) => {
  for (const version of [FIRST, SECOND, THIRD])
    t.deepEqual(resolveTarget(version, KNOWN, null), { kind: 'version', version });
});

test('an unambiguous prefix resolves to the one version it starts', (t) => {
  t.deepEqual(resolveTarget('202601010', KNOWN, null), { kind: 'version', version: FIRST });
  t.deepEqual(resolveTarget('2026010212', KNOWN, null), { kind: 'version', version: THIRD });
});

test('an ambiguous prefix is refused with every version it matches, sorted and once each', (t) => {
  const error = t.throws(() => resolveTarget('20260102', KNOWN, null), {
    instanceOf: TargetAmbiguousError,
  });
  t.is(error.code, 'TARGET_AMBIGUOUS');
  t.deepEqual(error.details, { target: '20260102', matches: [SECOND, THIRD] });
  const all = t.throws(() => resolveTarget('2026', KNOWN, null), {
    instanceOf: TargetAmbiguousError,
  });
  t.deepEqual(all.details.matches, [FIRST, SECOND, THIRD]);
});

test('digits that start no version, and anything that is not digits, are not found', (t) => {
  for (const spec of ['2027', '202601010000001', 'head', 'latest', '2026-01-01', '', '+', '1e3']) {
    const error = t.throws(() => resolveTarget(spec, KNOWN, SECOND), {
      instanceOf: TargetNotFoundError,
    });
    t.is(error.code, 'TARGET_NOT_FOUND', spec);
    t.deepEqual(error.details, { target: spec });
  }
  t.throws(() => resolveTarget(FIRST, [], null), { instanceOf: TargetNotFoundError });
});

test('+N counts forward from the current version, or from base when nothing is applied', (t) => {
  t.deepEqual(resolveTarget('+1', KNOWN, null), { kind: 'version', version: FIRST });
  t.deepEqual(resolveTarget('+3', KNOWN, null), { kind: 'version', version: THIRD });
  t.deepEqual(resolveTarget('+1', KNOWN, FIRST), { kind: 'version', version: SECOND });
  t.deepEqual(resolveTarget('+2', KNOWN, FIRST), { kind: 'version', version: THIRD });
});

test('-N counts back from the current version; back to before the first is base', (t) => {
  t.deepEqual(resolveTarget('-1', KNOWN, THIRD), { kind: 'version', version: SECOND });
  t.deepEqual(resolveTarget('-2', KNOWN, THIRD), { kind: 'version', version: FIRST });
  t.deepEqual(resolveTarget('-3', KNOWN, THIRD), { kind: 'base' });
  t.deepEqual(resolveTarget('-1', KNOWN, FIRST), { kind: 'base' });
});

test('+0 and -0 are the current version, or base when nothing is applied', (t) => {
  t.deepEqual(resolveTarget('+0', KNOWN, SECOND), { kind: 'version', version: SECOND });
  t.deepEqual(resolveTarget('-0', KNOWN, SECOND), { kind: 'version', version: SECOND });
  t.deepEqual(resolveTarget('+0', KNOWN, null), { kind: 'base' });
});

test('a relative step beyond either end is not found', (t) => {
  const cases: [string, string | null][] = [
    ['+4', null],
    ['+2', SECOND],
    ['+1', THIRD],
    ['-1', null],
    ['-2', FIRST],
    ['-4', THIRD],
  ];
  for (const [spec, current] of cases) {
    const error = t.throws(() => resolveTarget(spec, KNOWN, current), {
      instanceOf: TargetNotFoundError,
    });
    t.is(error.code, 'TARGET_NOT_FOUND', `${spec} from ${current ?? 'base'}`);
    t.deepEqual(error.details, { target: spec });
  }
  // With no versions at all, every step but +0 is out of range.
  t.throws(() => resolveTarget('+1', [], null), { instanceOf: TargetNotFoundError });
  t.throws(() => resolveTarget('-1', [], null), { instanceOf: TargetNotFoundError });
  t.deepEqual(resolveTarget('+0', [], null), { kind: 'base' });
});
