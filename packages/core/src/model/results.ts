/** What the engine's operations resolve to. Plain data: it crosses the thread boundary as is. */
import type { MigrationResult } from '../errors/index.ts';
import type { AppliedMigration, LogEntry } from './migration.ts';

/** An applied migration as `status` reports it. */
export type AppliedStatus = AppliedMigration & {
  /** The file now on disk for this version, or null when it is gone. */
  readonly file: string | null;
};

/** A migration waiting to be applied. */
export type PendingStatus = {
  readonly version: string;
  readonly name: string;
  readonly file: string;
};

/** Something about the directory and the version table that stops `up`. */
export type PlanProblem =
  | { readonly kind: 'missing'; readonly version: string; readonly name: string }
  | {
      readonly kind: 'changed';
      readonly version: string;
      readonly file: string;
      readonly applied: string;
      readonly current: string;
    }
  | {
      readonly kind: 'out-of-order';
      readonly version: string;
      readonly file: string;
      readonly newestApplied: string;
    }
  | {
      readonly kind: 'failed';
      readonly version: string;
      readonly file: string;
      readonly direction: 'up' | 'down';
      readonly statementsRun: number | null;
      readonly at: string;
      /**
       * The file changed since that run. A run no longer refuses it: the edit is taken as the
       * fix, and `up` (or, after `repair` accepts the edit, `down`) tries again.
       */
      readonly fileChanged: boolean;
      /** The file is gone: only `repair` (or a stamp) resolves it. */
      readonly fileMissing: boolean;
      /** The run died midway (a killed process, a lost connection), with no outcome recorded. */
      readonly interrupted: boolean;
    };

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

/** What `down` resolves to. */
export type DownResult = {
  /** Migrations this run reverted, in order: the last applied first. */
  readonly reverted: readonly MigrationResult[];
  readonly current: string | null;
  readonly durationMs: number;
};

/** What `redo` resolves to: what was reverted, then what was applied again. */
export type RedoResult = {
  readonly reverted: readonly MigrationResult[];
  readonly applied: readonly MigrationResult[];
  readonly current: string | null;
  readonly durationMs: number;
};

/** What `history` resolves to. */
export type HistoryResult = {
  /** Applied migrations, newest first. */
  readonly applied: readonly AppliedStatus[];
  /** The log: everything that happened, newest first (empty before the first run). */
  readonly log: readonly LogEntry[];
};

/** What `current` resolves to. */
export type CurrentResult = {
  readonly current: string | null;
  readonly name: string | null;
  readonly appliedAt: string | null;
};

/** What `stamp` resolves to. */
export type StampResult = {
  /** Versions recorded as applied without running. */
  readonly stamped: readonly string[];
  /** Versions removed from the version table without running their down. */
  readonly unstamped: readonly string[];
  readonly current: string | null;
};

/** One change `repair` makes (or would make, with `dryRun`). */
export type RepairAction =
  | {
      readonly kind: 'accept-checksum';
      readonly version: string;
      readonly file: string;
      readonly from: string;
      readonly to: string;
    }
  | { readonly kind: 'forget-missing'; readonly version: string; readonly name: string }
  | {
      readonly kind: 'resolve-failed';
      readonly version: string;
      readonly file: string;
      readonly direction: 'up' | 'down';
      readonly statementsRun: number | null;
    };

/** What `repair` resolves to. */
export type RepairResult = {
  readonly dryRun: boolean;
  readonly actions: readonly RepairAction[];
  /** Missing files left alone because `forgetMissing` was not given. */
  readonly skippedMissing: readonly string[];
};

/** What `check` resolves to when everything is applied and consistent. */
export type CheckResult = {
  readonly ok: true;
  readonly current: string | null;
  readonly applied: number;
};

/** One step of a plan. */
export type PlanStep = {
  readonly direction: 'up' | 'down';
  readonly version: string;
  readonly name: string;
  readonly file: string;
  readonly kind: 'sql' | 'module';
  /** Statement count for SQL migrations; null for modules. */
  readonly statements: number | null;
  readonly transactional: boolean;
  readonly lockTimeout: number | null;
  readonly statementTimeout: number | null;
};

/** What `plan` resolves to. */
export type PlanResult = {
  readonly direction: 'up' | 'down';
  readonly current: string | null;
  readonly steps: readonly PlanStep[];
};

/** What offline `sql` resolves to. */
export type SqlResult = {
  readonly direction: 'up' | 'down';
  readonly from: string | null;
  readonly to: string | null;
  readonly script: string;
  readonly steps: readonly PlanStep[];
};
