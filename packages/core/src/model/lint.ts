/**
 * The lint rules as data: their stable ids, default severities and the safe way each one names,
 * and what a finding looks like. Host-safe: the configuration checks rule ids against this table
 * and the CLI prints from it; the rules themselves read parse trees in the worker
 * (`engine/lint/`). `docs/lint.md` has one section per rule.
 */

/** How much a finding matters: an error fails `offloop lint` (and `up --strict` refuses to run). */
export type LintSeverity = 'error' | 'warning' | 'note';

/** A rule's level in the configuration: a severity, or `off`. */
export type LintLevel = LintSeverity | 'off';

/** What the catalog says about one rule. */
export type LintRuleInfo = {
  /** Its severity when the configuration does not set one and the table's size is not known. */
  readonly severity: LintSeverity;
  /**
   * Whether the harm grows with the table's size (a scan or a rewrite under a lock): when
   * connected, the finding is graded by the table's size (`engine/lint/live.ts`).
   */
  readonly sized: boolean;
  /** The safe way, in one sentence (the finding's `help`). */
  readonly help: string;
};

/** Every rule, by its stable id. */
export const LINT_RULES = {
  'create-index-not-concurrent': {
    severity: 'warning',
    sized: true,
    help:
      'use CREATE INDEX CONCURRENTLY, alone in a migration marked transaction:false (drop the ' +
      'INVALID index a failed build leaves before retrying)',
  },
  'drop-index-not-concurrent': {
    severity: 'warning',
    sized: false,
    help: 'use DROP INDEX CONCURRENTLY, alone in a migration marked transaction:false',
  },
  'reindex-not-concurrent': {
    severity: 'warning',
    sized: true,
    help:
      'use REINDEX ... CONCURRENTLY (PostgreSQL 12+) in a migration marked transaction:false; ' +
      'before 12, build a new index concurrently and drop the old one concurrently',
  },
  'foreign-key-not-valid': {
    severity: 'warning',
    sized: true,
    help:
      'add the foreign key NOT VALID, then VALIDATE CONSTRAINT in a later migration (validating ' +
      'takes only SHARE UPDATE EXCLUSIVE)',
  },
  'check-not-valid': {
    severity: 'warning',
    sized: true,
    help: 'add the check NOT VALID, then VALIDATE CONSTRAINT in a later migration',
  },
  'set-not-null-without-check': {
    severity: 'warning',
    sized: true,
    help:
      'add CHECK (column IS NOT NULL) NOT VALID, VALIDATE it in a later migration, then SET NOT ' +
      'NULL (PostgreSQL 12+ skips the scan) and drop the check',
  },
  'unique-without-index': {
    severity: 'warning',
    sized: true,
    help:
      'CREATE UNIQUE INDEX CONCURRENTLY first (transaction:false), then ADD CONSTRAINT ... ' +
      'UNIQUE USING INDEX (or PRIMARY KEY USING INDEX)',
  },
  'column-type-change': {
    severity: 'warning',
    sized: true,
    help:
      'add a new column, backfill it in batches, switch the application over, then drop the ' +
      'old one; only binary-compatible changes (varchar(n) to a longer varchar or text) skip ' +
      'the rewrite',
  },
  'volatile-default': {
    severity: 'warning',
    sized: true,
    help:
      'add the column without the default (or with a constant one), set the default in a ' +
      'second statement, and backfill existing rows in batches',
  },
  'rename-column': {
    severity: 'warning',
    sized: false,
    help:
      'add the new column, write both, backfill, move reads over, and drop the old column once ' +
      'no deployed code uses it',
  },
  'rename-table': {
    severity: 'warning',
    sized: false,
    help:
      'rename, then create a view with the old name (updatable for simple views) until no ' +
      'deployed code uses it',
  },
  'drop-column': {
    severity: 'warning',
    sized: false,
    help:
      'first deploy code that no longer reads or writes the column (for ORMs: ignore it), then ' +
      'drop it in a later release',
  },
  'drop-table': {
    severity: 'warning',
    sized: false,
    help: 'first deploy code that no longer uses the table, then drop it in a later release',
  },
  'vacuum-full': {
    severity: 'warning',
    sized: true,
    help: 'use plain VACUUM, or pg_repack / pg_squeeze to compact a table online',
  },
  cluster: {
    severity: 'warning',
    sized: true,
    help: 'use pg_repack --order-by to reorder a table online',
  },
  'lock-table': {
    severity: 'warning',
    sized: false,
    help:
      'let each statement take the lock it needs, with a short lock_timeout; take an explicit ' +
      'lock only in the weakest mode that works',
  },
  truncate: {
    severity: 'warning',
    sized: false,
    help: 'delete in batches, or swap in a new empty table; truncate only tables no one reads',
  },
  'exclusive-lock-then-more': {
    severity: 'warning',
    sized: false,
    help:
      'end the migration right after the statement that takes ACCESS EXCLUSIVE: move the rest ' +
      '(data changes, index builds, other tables) to their own migrations',
  },
  'enum-value-in-transaction': {
    severity: 'error',
    sized: false,
    help:
      'add the value in a migration marked transaction:false (before PostgreSQL 12, ALTER TYPE ' +
      '... ADD VALUE cannot run in a transaction block)',
  },
  'missing-lock-timeout': {
    severity: 'warning',
    sized: false,
    help:
      'add lock_timeout to the marker line ("-- migrate:up transaction:false lock_timeout:2s"), ' +
      'or set statementLockTimeout in the configuration',
  },
  'refresh-materialized-view-not-concurrent': {
    severity: 'warning',
    sized: true,
    help:
      'use REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view), in a ' +
      'migration marked transaction:false',
  },
  'lint-ignore-invalid': {
    severity: 'warning',
    sized: false,
    help: 'write "-- offloop-lint-ignore <rule-id> <why it is safe here>" with a known rule id',
  },
} as const satisfies Record<string, LintRuleInfo>;

/** A rule's stable id. */
export type LintRuleId = keyof typeof LINT_RULES;

/** Every rule id, in the catalog's order. */
export const LINT_RULE_IDS = Object.keys(LINT_RULES) as readonly LintRuleId[];

/** Whether `id` is a rule's id. */
export function isLintRuleId(id: string): id is LintRuleId {
  return Object.hasOwn(LINT_RULES, id);
}

/** How big a table was when a finding about it was graded (connected runs only). */
export type TableSize = {
  /** `pg_class.reltuples`; null when the table was never analyzed. */
  readonly rows: number | null;
  /** `pg_relation_size`: the table's main data, in bytes. */
  readonly bytes: number;
};

/** One thing a rule found. */
export type LintFinding = {
  readonly rule: LintRuleId;
  readonly severity: LintSeverity;
  readonly message: string;
  /** The safe way (the rule's {@link LintRuleInfo.help}). */
  readonly help: string;
  /** File name relative to the migrations directory. */
  readonly file: string;
  readonly version: string;
  /** 1-based line and column in the file. */
  readonly line: number;
  readonly column: number;
  /** The table the finding is about (as written, `schema.table` or `table`), if any. */
  readonly table: string | null;
  /**
   * The table's size when the finding was graded by it: connected, and the table exists. Null
   * offline, for rules whose harm does not depend on size, and for tables that do not exist yet.
   */
  readonly size: TableSize | null;
};

/** The result of `lint()`. */
export type LintResult = {
  /** Findings in file order, then by position. */
  readonly findings: readonly LintFinding[];
  /** How many SQL migrations were linted (JavaScript/TypeScript migrations are not). */
  readonly files: number;
  /** The PostgreSQL major version the version-dependent rules assumed; null when unknown (newest assumed). */
  readonly postgresVersion: number | null;
  /** Whether findings were graded by the connected database's table sizes. */
  readonly live: boolean;
  /** Whether the findings fail the lint: an error, or with `strict` a warning too. */
  readonly failed: boolean;
};

/** Whether `findings` fail a lint: any error, or with `strict` any warning. */
export function lintFails(findings: readonly LintFinding[], strict: boolean): boolean {
  return findings.some(
    (finding) => finding.severity === 'error' || (strict && finding.severity === 'warning'),
  );
}
