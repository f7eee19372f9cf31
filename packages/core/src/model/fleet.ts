/**
 * A fleet: one set of migration files applied to many targets (tenant schemas, tenant databases),
 * each with its own lock and ledger. What the fleet's calls return and report.
 */
import type { ErrorCode } from '../errors/codes.ts';
import { isOffloopError } from '../errors/base.ts';
import type { MigrationResult } from '../errors/migration.ts';

/**
 * One target of a fleet: a database, and the schema its migrations run in (and its ledger lives
 * in). Without `schema`, the fleet's `schema` option (default `public`).
 */
export type FleetTarget = {
  readonly url: string;
  readonly schema?: string | undefined;
};

/**
 * How a target's run ended:
 * - `applied`: it ran and applied what was pending (possibly nothing, when another runner had);
 * - `up-to-date`: the fleet's one query per database found nothing to do, and nothing ran;
 * - `failed`: its run failed (`error` says why); what it applied before stays (`applied`);
 * - `cancelled`: the fleet was cancelled while it ran: it stopped consistent (see `error`);
 * - `not-run`: the fleet stopped (a failure policy, a failed canary, a cancel) before its turn.
 */
export type TargetOutcome = 'applied' | 'up-to-date' | 'failed' | 'cancelled' | 'not-run';

/** A target's error, as plain data (it travels in JSON and between hosts). */
export type TargetError = {
  readonly code: ErrorCode;
  readonly message: string;
  /**
   * What PostgreSQL said besides its message, for an error it reported (a migration that failed,
   * a lock it could not get): its SQLSTATE, DETAIL (`Key (id)=(1) already exists.`) and HINT.
   * Absent when the error did not come from the server (and from a result an older version
   * stored).
   */
  readonly sqlstate?: string | null;
  readonly detail?: string | null;
  readonly hint?: string | null;
};

/** What became of one target. */
export type TargetResult = {
  /** The target's label: `<database>` or `<database>/<schema>`, never a password. */
  readonly target: string;
  readonly database: string;
  readonly schema: string;
  readonly outcome: TargetOutcome;
  /** The migrations it applied in this run, in order. */
  readonly applied: readonly MigrationResult[];
  /** The newest version applied on the target after the run, as far as the fleet knows; null for none. */
  readonly version: string | null;
  /** How long its run took, in ms (0 for a target that did not run). */
  readonly durationMs: number;
  /** Whether it ran as a canary, before the rest. */
  readonly canary: boolean;
  readonly error: TargetError | null;
};

/**
 * A caught value as a target's error: its code and message (and the server's SQLSTATE, DETAIL and
 * HINT when its details carry them), or `INTERNAL_ERROR` for a non-offloop error.
 */
export function targetErrorOf(error: unknown): TargetError {
  if (!isOffloopError(error)) return { code: 'INTERNAL_ERROR', message: String(error) };
  const details = (error.details ?? {}) as Record<string, unknown>;
  const server = {
    sqlstate: textOrNull(details['sqlstate']),
    detail: textOrNull(details['detail']),
    hint: textOrNull(details['hint']),
  };
  const fromServer = Object.values(server).some((value) => value !== null);
  return { code: error.code, message: error.message, ...(fromServer ? server : {}) };
}

const textOrNull = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

/**
 * The result of a target that did not run: found up to date (`up-to-date`), or never reached
 * (`not-run`); `version` is where it stood.
 */
export function notRunResult(
  target: Pick<TargetResult, 'target' | 'database' | 'schema'>,
  outcome: 'up-to-date' | 'not-run',
  version: string | null,
): TargetResult {
  return {
    target: target.target,
    database: target.database,
    schema: target.schema,
    outcome,
    applied: [],
    version,
    durationMs: 0,
    canary: false,
    error: null,
  };
}

/**
 * Why a fleet stopped before every target had its turn; null when none stopped it. `files`: a
 * target failed on the migration files themselves (a syntax error, a bad file name), which every
 * target would fail on the same way.
 */
export type FleetStop = 'canary-failed' | 'failures' | 'files' | 'aborted' | 'timeout' | null;

/** Counts of targets by outcome. */
export type FleetCounts = { readonly total: number } & {
  readonly [O in TargetOutcome]: number;
};

/** How many of `results` ended each way. */
export function countOutcomes(results: readonly TargetResult[]): FleetCounts {
  const counts = {
    total: results.length,
    applied: 0,
    'up-to-date': 0,
    failed: 0,
    cancelled: 0,
    'not-run': 0,
  };
  for (const result of results) counts[result.outcome] += 1;
  return counts;
}

/**
 * The message of a fleet's `FleetFailedError`: why it did not finish, what to do, and the first
 * target that failed, if one did.
 */
export function fleetFailedMessage(why: string, targets: readonly TargetResult[]): string {
  const failed = targets.find((target) => target.outcome === 'failed');
  const first =
    failed?.error == null
      ? ''
      : ` First failure: ${failed.target}: ${failed.error.code}: ${failed.error.message}`;
  // Nothing failed (a Ctrl-C, a timeout): there is no cause to fix, only the rest to run.
  const next =
    failed === undefined
      ? 'Run it again to finish: it skips what is done.'
      : 'Fix the cause and run it again: it skips what is done.';
  return `The fleet did not finish: ${why}. ${next}${first}`;
}

/** What a fleet's `up` did, target by target, in the order the targets were given. */
export type FleetUpResult = {
  readonly targets: readonly TargetResult[];
  readonly counts: FleetCounts;
  readonly stopped: FleetStop;
  readonly durationMs: number;
};

/**
 * Where one target stands, from the fleet's one query per database (no lock taken):
 * - `up-to-date`: every migration file applied, with the checksums of the files;
 * - `behind`: files are pending (or the target has no ledger yet);
 * - `failed`: the target's last logged run failed (`lastError`), and files are pending;
 * - `diverged`: applied versions or checksums that the files do not match (an edited or missing
 *   file, or a version ahead of the files): `up` will refuse it until it is looked at;
 * - `unreachable`: its database could not be read (`lastError` says why).
 */
export type TargetState = 'up-to-date' | 'behind' | 'failed' | 'diverged' | 'unreachable';

/** One target in a fleet's status. */
export type TargetStatus = {
  readonly target: string;
  readonly database: string;
  readonly schema: string;
  readonly state: TargetState;
  /** The newest applied version; null for none. */
  readonly version: string | null;
  readonly appliedCount: number;
  /** Migration files not applied on the target. */
  readonly pendingCount: number;
  /** The failure its log holds last, when its last logged run failed. */
  readonly lastError: {
    readonly version: string;
    readonly message: string;
    readonly at: string;
  } | null;
};

/**
 * A target as `Fleet.targets()` lists it: where it stands, and the URL that reaches it (resolved
 * as libpq resolves it, so a password may be in it: keep it out of logs).
 */
export type LocatedTarget = TargetStatus & { readonly url: string };

/** A fleet's status: where each target stands, and how many stand where. */
export type FleetStatusResult = {
  readonly targets: readonly TargetStatus[];
  /** The newest migration file's version; null for an empty directory. */
  readonly latest: string | null;
  /** How many targets are at each version (`"none"` for no version applied), newest first. */
  readonly versions: readonly { readonly version: string | null; readonly count: number }[];
  readonly counts: { readonly total: number } & { readonly [S in TargetState]: number };
};

/**
 * A fleet's progress, on the host's loop: the plan (after the one query per database), each
 * target as it starts and as it finishes, and the end.
 */
export type FleetEvent =
  | {
      readonly type: 'fleet:planned';
      /** Targets found. */
      readonly total: number;
      /** Found up to date by the one query per database: they will not run. */
      readonly upToDate: number;
      /** Targets that will run, canaries first. */
      readonly toRun: number;
      readonly canaries: readonly string[];
    }
  | { readonly type: 'target:started'; readonly target: string; readonly canary: boolean }
  | { readonly type: 'target:finished'; readonly result: TargetResult }
  | {
      readonly type: 'fleet:stopping';
      readonly reason: Exclude<FleetStop, null>;
      /** Targets still running, which finish (a failure policy) or are cancelled (a cancel). */
      readonly running: number;
    }
  | { readonly type: 'fleet:finished'; readonly counts: FleetCounts; readonly stopped: FleetStop };
