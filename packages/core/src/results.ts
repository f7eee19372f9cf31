/** What the engine's operations resolve to. Plain data: it crosses the thread boundary as is. */
import type { MigrationResult } from './errors.ts';
import type { AppliedStatus, PendingStatus, PlanProblem } from './plan.ts';

/** What `up` resolves to. */
export type UpResult = {
  /** Migrations this run applied, in order. Empty when there was nothing to do. */
  readonly applied: readonly MigrationResult[];
  /** The newest applied version after the run, or null. */
  readonly current: string | null;
  readonly durationMs: number;
};

/** What `status` resolves to. Read-only: it takes no lock and creates nothing. */
export type StatusResult = {
  readonly applied: readonly AppliedStatus[];
  readonly pending: readonly PendingStatus[];
  readonly problems: readonly PlanProblem[];
  readonly current: string | null;
  /** Whether the version table exists yet. */
  readonly initialized: boolean;
};
