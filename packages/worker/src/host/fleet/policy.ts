/**
 * A fleet's policy: which targets go first as canaries, when failures stop the fleet, and how a
 * fleet that stopped says why.
 */
import {
  ConfigError,
  fleetFailedMessage,
  formatConfigIssues,
  type FleetUpResult,
  type ResolvedFleetConfig,
} from '@offloop/core';
import { describeCounts } from './status.ts';
import type { ResolvedTarget } from './targets.ts';

/**
 * The canaries among the targets to run: those `canary` names, or the first `canary` of them,
 * taken first from the targets whose last run did not fail (a rerun after a partial failure
 * tries a healthy target first, not the one that failed last time). Named canaries that are all
 * up to date leave the fleet with one canary still: the first target to run, picked as above.
 * A name that is none of the fleet's targets is a mistake ({@link assertCanariesExist}).
 */
export function pickCanaries(
  canary: ResolvedFleetConfig['canary'],
  toRun: readonly ResolvedTarget[],
  failedBefore: ReadonlySet<ResolvedTarget>,
): ResolvedTarget[] {
  if (typeof canary === 'number') {
    const healthy = toRun.filter((target) => !failedBefore.has(target));
    const failed = toRun.filter((target) => failedBefore.has(target));
    return [...healthy, ...failed].slice(0, canary);
  }
  const named = toRun.filter((target) => canary.some((name) => names(name, target)));
  return named.length > 0 ? named : pickCanaries(1, toRun, failedBefore);
}

/** Whether `name` (of `--canary`) names `target`: its label, schema, database, or both. */
function names(name: string, target: ResolvedTarget): boolean {
  return (
    name === target.label ||
    name === target.schema ||
    name === target.database ||
    name === `${target.database}/${target.schema}`
  );
}

/**
 * Throw a `ConfigError` (before anything runs) when a canary's name is none of the fleet's
 * targets: a typo would otherwise run the fleet without the canary it asked for.
 */
export function assertCanariesExist(
  canary: ResolvedFleetConfig['canary'],
  targets: readonly ResolvedTarget[],
): void {
  if (typeof canary === 'number' || targets.length === 0) return;
  const unknown = canary.filter((name) => !targets.some((target) => names(name, target)));
  if (unknown.length === 0) return;
  const issues = unknown.map((name) => ({
    path: 'canary',
    message: `${JSON.stringify(name)} is none of the fleet's ${targets.length} targets (a schema, a database, or database/schema)`,
  }));
  throw new ConfigError(formatConfigIssues(issues, 'fleet options'), { issues });
}

/**
 * Whether `failures` are more than `maxFailures` allows: a count, or a share of the `toRun`
 * targets the fleet runs (not of those finished so far: one early failure out of two finished
 * must not stop a fleet of hundreds that allows 10%).
 */
export function tooManyFailures(
  limit: ResolvedFleetConfig['maxFailures'],
  failures: number,
  toRun: number,
): boolean {
  if (limit === null) return false;
  if ('count' in limit) return failures >= limit.count;
  return failures > limit.share * toRun;
}

/** The message of the `FleetFailedError` of a fleet's `up` that did not finish. */
export function failureMessage(result: FleetUpResult): string {
  const { counts, stopped } = result;
  const why =
    stopped === 'canary-failed'
      ? 'the canary failed, and no other target was touched'
      : stopped === 'failures'
        ? 'the failure policy stopped it'
        : stopped === 'files'
          ? 'the migration files are invalid, and every target would fail the same way'
          : stopped === 'aborted'
            ? 'it was cancelled'
            : stopped === 'timeout'
              ? 'it ran out of time'
              : `${counts.failed} target${counts.failed === 1 ? '' : 's'} failed`;
  return fleetFailedMessage(
    `${why} (${describeCounts(counts)} of ${counts.total})`,
    result.targets,
  );
}
