/** Failures of a fleet as a whole: its targets' own errors are in its result, target by target. */
import { OffloopError } from './base.ts';
import type { FleetStatusResult, FleetUpResult } from '../model/fleet.ts';

/**
 * A fleet's `up` did not bring every target up: a target failed (its error in
 * `details.targets`), a canary failed, the failure policy stopped it, or it was cancelled or
 * timed out (`details.stopped`). Every target's result is in `details`: what was applied stays,
 * and a rerun takes up what is left.
 */
export class FleetFailedError extends OffloopError<'FLEET_FAILED', FleetUpResult> {
  readonly code = 'FLEET_FAILED';
}

/** A fleet's `check` found targets that are not up to date (`details`: the fleet's status). */
export class FleetBehindError extends OffloopError<'FLEET_BEHIND', FleetStatusResult> {
  readonly code = 'FLEET_BEHIND';
}
