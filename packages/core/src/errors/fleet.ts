/** Failures of a fleet as a whole: its targets' own errors are in its result, target by target. */
import { OffloopError } from './base.ts';
import type { FleetStatusResult, FleetUpResult } from '../model/fleet.ts';

/** Targets an inspected fleet error lists by name; the rest are counted. */
const INSPECTED_TARGETS = 5;

/** Node's `util.inspect` hook, by its registered name (core imports nothing of Node's here). */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * What `util.inspect` shows of a fleet error (an uncaught one, `console.error(error)`): its
 * stack, the counts and the first targets that did not make it. Its `details` list every target,
 * thousands of lines for a large fleet, and stay whole on the error itself.
 */
function inspectFleetError(
  error: OffloopError,
  counts: object,
  notDone: readonly { readonly target: string; readonly what: string }[],
): string {
  const listed = notDone
    .slice(0, INSPECTED_TARGETS)
    .map(({ target, what }) => `\n    ${target}: ${what}`)
    .join('');
  const more =
    notDone.length > INSPECTED_TARGETS
      ? `\n    ... and ${notDone.length - INSPECTED_TARGETS} more`
      : '';
  return (
    `${error.stack ?? `${error.name}: ${error.message}`}\n` +
    `  code: '${error.code}'\n  counts: ${JSON.stringify(counts)}${listed}${more}\n` +
    '  (every target: error.details.targets)'
  );
}

/**
 * Make `details` non-enumerable on a fleet error: Node prints an uncaught error with custom
 * inspection off (its `[INSPECT]` unused), every enumerable property in full. The message already
 * holds the counts and the first failure; `error.details` stays whole.
 */
function hideDetails(error: OffloopError): void {
  Object.defineProperty(error, 'details', { enumerable: false });
}

/**
 * A fleet's `up` did not bring every target up: a target failed (its error in
 * `details.targets`), a canary failed, the failure policy stopped it, or it was cancelled or
 * timed out (`details.stopped`). Every target's result is in `details`: what was applied stays,
 * and a rerun takes up what is left.
 */
export class FleetFailedError extends OffloopError<'FLEET_FAILED', FleetUpResult> {
  readonly code = 'FLEET_FAILED';

  constructor(...args: ConstructorParameters<typeof OffloopError<'FLEET_FAILED', FleetUpResult>>) {
    super(...args);
    hideDetails(this);
  }

  /** See {@link inspectFleetError}. */
  [INSPECT](): string {
    const { targets, counts } = this.details;
    return inspectFleetError(
      this,
      counts,
      targets
        .filter((target) => target.outcome === 'failed' || target.outcome === 'cancelled')
        .map(({ target, outcome, error }) => ({
          target,
          what: error === null ? outcome : `${outcome}, ${error.code}: ${error.message}`,
        })),
    );
  }
}

/**
 * A fleet command found no target where it looked: a `--schemas` glob that matches no schema, an
 * empty targets file or query (`details.searched` says where it looked). Raised by the CLI's
 * `fleet up` and `fleet check`, where a typo would otherwise pass a deploy's gate; `--allow-empty`
 * accepts a fleet with no targets. The library's fleet resolves with no targets instead.
 */
export class FleetEmptyError extends OffloopError<'FLEET_EMPTY', { readonly searched: string }> {
  readonly code = 'FLEET_EMPTY';
}

/** A fleet's `check` found targets that are not up to date (`details`: the fleet's status). */
export class FleetBehindError extends OffloopError<'FLEET_BEHIND', FleetStatusResult> {
  readonly code = 'FLEET_BEHIND';

  constructor(
    ...args: ConstructorParameters<typeof OffloopError<'FLEET_BEHIND', FleetStatusResult>>
  ) {
    super(...args);
    hideDetails(this);
  }

  /** See {@link inspectFleetError}. */
  [INSPECT](): string {
    const { targets, counts } = this.details;
    return inspectFleetError(
      this,
      counts,
      targets
        .filter((target) => target.state !== 'up-to-date')
        .map(({ target, state, version, pendingCount }) => ({
          target,
          what: `${state} at ${version ?? 'nothing applied'}, ${pendingCount} pending`,
        })),
    );
  }
}
