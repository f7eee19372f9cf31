/**
 * Linting a run's migrations: every SQL migration of the directory in order (what one migration
 * adds, a later one may rely on: a validated check before `SET NOT NULL`), findings kept for the
 * ones asked about, graded by table size when a database is at hand. Used by `lint`, and by
 * `up` and `check` before anything runs.
 */
import type { Db } from '../db/db.ts';
import type { ResolvedConfig } from '../../config/config.ts';
import { LintFailedError } from '../../errors/index.ts';
import { lintFails, type LintFinding } from '../../model/lint.ts';
import type { MigrationFile } from '../../model/migration.ts';
import { count } from '../../util/count.ts';
import { loadParser } from '../parse/parser.ts';
import type { Emit } from '../session.ts';
import { lintMigration, newLintRun, type GradableFinding, type LintSettings } from './lint-file.ts';
import { gradeBySize, serverMajorVersion } from './live.ts';

/** The findings of a run, and what they assumed. */
export type Linted = {
  readonly findings: readonly LintFinding[];
  /** How many SQL migrations were linted. */
  readonly files: number;
  readonly postgresVersion: number | null;
  readonly live: boolean;
};

/**
 * Lint `files` (every migration of the directory, in order), reporting findings only for the
 * versions in `selected` (null: all). With `pool`, the server's version is assumed and findings
 * are graded by table size; without, the configured `postgresVersion`.
 */
export async function lintMigrations(
  config: ResolvedConfig,
  files: readonly MigrationFile[],
  selected: ReadonlySet<string> | null,
  pool: Db | null,
): Promise<Linted> {
  await loadParser();
  const postgresVersion = pool === null ? config.postgresVersion : await serverMajorVersion(pool);
  const settings: LintSettings = {
    postgresVersion,
    configLockTimeout: config.statementLockTimeout,
    levels: config.lint.rules,
  };
  const perFile = findingsPerFile(files, settings);
  let linted = 0;
  let found: GradableFinding[] = [];
  for (const [index, file] of files.entries()) {
    const findings = perFile[index];
    if (findings === undefined || findings === null) continue;
    if (selected !== null && !selected.has(file.version)) continue;
    linted += 1;
    found.push(...findings);
  }
  if (pool !== null) found = await gradeBySize(pool, found, settings);
  return {
    findings: found.map((item) => item.finding),
    files: linted,
    postgresVersion,
    live: pool !== null,
  };
}

/**
 * Each file's findings (null for a module), by the array of files and the settings. A fleet's
 * targets in one thread share one array of files (`files-once.ts`) and lint the same way: the
 * first target lints, the others reuse it (20 files took about 3 ms a target). Findings are never
 * changed after (grading makes new ones).
 */
const lintedFiles = new WeakMap<
  readonly MigrationFile[],
  Map<string, readonly (readonly GradableFinding[] | null)[]>
>();

function findingsPerFile(
  files: readonly MigrationFile[],
  settings: LintSettings,
): readonly (readonly GradableFinding[] | null)[] {
  const key = JSON.stringify(settings);
  let bySettings = lintedFiles.get(files);
  const known = bySettings?.get(key);
  if (known !== undefined) return known;
  const run = newLintRun();
  const result = files.map((file) =>
    file.kind === 'sql' ? lintMigration(file, settings, run) : null,
  );
  if (bySettings === undefined) {
    bySettings = new Map();
    lintedFiles.set(files, bySettings);
  }
  bySettings.set(key, result);
  return result;
}

/**
 * Before `up` or `check` runs: lint the pending migrations, send their findings as a
 * `lint:findings` event, and with `strict` refuse (`LINT_FAILED`) when they fail the lint.
 */
export async function lintBeforeRun(
  config: ResolvedConfig,
  files: readonly MigrationFile[],
  pending: readonly MigrationFile[],
  pool: Db,
  options: { readonly strict: boolean; readonly emit: Emit },
): Promise<void> {
  if (!pending.some((file) => file.kind === 'sql')) return;
  const { findings } = await lintMigrations(
    config,
    files,
    new Set(pending.map((file) => file.version)),
    pool,
  );
  if (findings.length === 0) return;
  const failed = lintFails(findings, options.strict);
  await options.emit({ type: 'lint:findings', findings, failed });
  if (!failed) return;
  throw new LintFailedError(
    `Lint found ${count(findings.length, 'problem')} in the pending migrations and the run is ` +
      'strict (--strict, lint.strict): nothing was run. Fix them, or silence one that is safe ' +
      'with "-- offloop-lint-ignore <rule> <reason>" (docs/lint.md).',
    {
      findings: findings.map(({ rule, severity, file, line, column, message }) => ({
        rule,
        severity,
        file,
        line,
        column,
        message,
      })),
    },
  );
}
