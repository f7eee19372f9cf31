/**
 * A fleet's policy: which targets go first as canaries, when failures stop the fleet, and how a
 * fleet that stopped says why.
 */
import { fleetFailedMessage, type FleetUpResult, type ResolvedFleetConfig } from '@offloop/core';
import { describeCounts } from './status.ts';
import type { ResolvedTarget } from './targets.ts';

/**
 * The canaries among the targets to run: those `canary` names, or the first `canary` of them,
 * taken first from the targets whose last run did not fail (a rerun after a partial failure
 * tries a healthy target first, not the one that failed last time).
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
  return toRun.filter((target) =>
    canary.some(
      (name) =>
        name === target.label ||
        name === target.schema ||
        name === target.database ||
        name === `${target.database}/${target.schema}`,
    ),
  );
}

/** Whether `failures` of the `finished` targets are more than `maxFailures` allows. */
export function tooManyFailures(
  limit: ResolvedFleetConfig['maxFailures'],
  failures: number,
  finished: number,
): boolean {
  if (limit === null) return false;
  if ('count' in limit) return failures >= limit.count;
  return finished > 0 && failures / finished > limit.share;
}

/** The message of the `FleetFailedError` of a fleet's `up` that did not finish. */
export function failureMessage(result: FleetUpResult): string {
  const { counts, stopped } = result;
  const why =
    stopped === 'canary-failed'
      ? 'the canary failed, and no other target was touched'
      : stopped === 'failures'
        ? 'the failure policy stopped it'
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
