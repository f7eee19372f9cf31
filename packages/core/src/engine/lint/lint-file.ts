/**
 * Linting one SQL migration: its `up` section split by PostgreSQL's parser, every rule run on
 * every statement in order (with what the migration created before it), findings placed at
 * `file:line:column`, silenced by `offloop-lint-ignore` comments or the configuration, and given
 * their configured severity. Pure: no database (the parser must be loaded: `loadParser`).
 */
import type { LintConfig } from '../../config/config.ts';
import { charIndexOfByte, lineColumnAt } from '../../files/source-position.ts';
import {
  LINT_RULES,
  type LintFinding,
  type LintRuleId,
  type LintSeverity,
} from '../../model/lint.ts';
import type { SqlMigrationFile } from '../../model/migration.ts';
import { splitSection } from '../prepare/split.ts';
import { readDirectives, skipTrivia, type Directives } from './directives.ts';
import { asNode, stringOf, tableOf, unwrap, type TableRef } from './nodes.ts';
import {
  CreatedObjects,
  NotNullChecks,
  type Hit,
  type LintStatement,
  type Rule,
  type RuleContext,
} from './rule.ts';
import { columnTypeChange, volatileDefault } from './rules/column-rules.ts';
import { dropColumn, dropTable, renames } from './rules/compatibility-rules.ts';
import {
  constraintNotValid,
  setNotNullWithoutCheck,
  trackNotNullChecks,
  uniqueWithoutIndex,
} from './rules/constraint-rules.ts';
import {
  createIndexNotConcurrent,
  dropIndexNotConcurrent,
  refreshNotConcurrent,
  reindexNotConcurrent,
} from './rules/index-rules.ts';
import {
  enumValueInTransaction,
  exclusiveLockThenMore,
  missingLockTimeout,
} from './rules/lock-rules.ts';
import { cluster, lockTable, truncate, vacuumFull } from './rules/maintenance-rules.ts';

/** Every rule, run on every statement. */
const RULES: readonly Rule[] = [
  createIndexNotConcurrent,
  dropIndexNotConcurrent,
  reindexNotConcurrent,
  refreshNotConcurrent,
  constraintNotValid,
  uniqueWithoutIndex,
  setNotNullWithoutCheck,
  columnTypeChange,
  volatileDefault,
  renames,
  dropColumn,
  dropTable,
  vacuumFull,
  cluster,
  lockTable,
  truncate,
  exclusiveLockThenMore,
  enumValueInTransaction,
  missingLockTimeout,
];

/** What a lint run assumes, from the configuration and the server. */
export type LintSettings = {
  /** The PostgreSQL major version; null for the newest. */
  readonly postgresVersion: number | null;
  /** The configured `statementLockTimeout`, in ms (0: none). */
  readonly configLockTimeout: number;
  /** Levels set per rule. */
  readonly levels: LintConfig['rules'];
};

/** A finding, with the table it is about as the statement named it (for grading by size). */
export type GradableFinding = {
  readonly finding: LintFinding;
  readonly table: TableRef | undefined;
};

/** What a run carries from one migration to the next, in order. */
export type LintRun = { readonly notNullChecks: NotNullChecks };

/** A new run's state. */
export function newLintRun(): LintRun {
  return { notNullChecks: new NotNullChecks() };
}

/** The findings of `file`'s `up` section. Throws `SqlSyntaxError` when it does not parse. */
export function lintMigration(
  file: SqlMigrationFile,
  settings: LintSettings,
  run: LintRun = newLintRun(),
): GradableFinding[] {
  const section = file.up;
  const split = splitSection(file, section);
  const statements: LintStatement[] = split.map(({ kind, node }, index) => ({
    kind,
    node: asNode(node) ?? {},
    index,
  }));
  const context: RuleContext = {
    transactional: section.options.transaction,
    options: section.options,
    configLockTimeout: settings.configLockTimeout,
    postgresVersion: settings.postgresVersion,
    created: new CreatedObjects(),
    notNullChecks: run.notNullChecks,
    statements,
  };
  const place = (index: number): { line: number; column: number } =>
    lineColumnAt(file.source, index);
  const make = (rule: LintRuleId, message: string, at: number): LintFinding | undefined => {
    const severity = levelOf(rule, settings);
    if (severity === undefined) return undefined;
    const { help } = LINT_RULES[rule];
    return {
      rule,
      severity,
      message,
      help,
      file: file.file,
      version: file.version,
      ...place(at),
      table: null,
      size: null,
    };
  };

  const fileDirectives = readDirectives(file.source.slice(0, section.offset));
  const found: GradableFinding[] = directiveProblems(fileDirectives, 0, make);
  split.forEach((statement, index) => {
    const start = skipTrivia(file.source, statement.offset);
    // The comments right before a statement: after the previous one's text (its semicolon).
    const previous = split[index - 1];
    const leadingFrom =
      previous === undefined ? section.offset : previous.offset + previous.sql.length;
    const directives = readDirectives(file.source.slice(leadingFrom, start));
    found.push(...directiveProblems(directives, leadingFrom, make));
    const lintStatement = statements[index];
    if (lintStatement === undefined) return;
    for (const hit of RULES.flatMap((rule) => rule(lintStatement, context))) {
      if (fileDirectives.rules.has(hit.rule) || directives.rules.has(hit.rule)) continue;
      const at =
        hit.location === undefined
          ? start
          : section.offset + charIndexOfByte(section.sql, hit.location);
      const finding = make(hit.rule, hit.message, at);
      if (finding !== undefined) found.push(withTable(finding, hit));
    }
    trackCreated(lintStatement, context.created);
    trackNotNullChecks(lintStatement.kind, lintStatement.node, context);
  });
  return found.sort(
    (a, b) => a.finding.line - b.finding.line || a.finding.column - b.finding.column,
  );
}

/** `finding` with the table of `hit`. */
function withTable(finding: LintFinding, hit: Hit): GradableFinding {
  return { finding: { ...finding, table: hit.table?.name ?? null }, table: hit.table };
}

/** The severity of `rule`'s findings, or undefined when it is off. */
function levelOf(rule: LintRuleId, settings: LintSettings): LintSeverity | undefined {
  const level = settings.levels[rule] ?? LINT_RULES[rule].severity;
  return level === 'off' ? undefined : level;
}

/** `lint-ignore-invalid` findings for malformed directives in text that starts at `offset`. */
function directiveProblems(
  directives: Directives,
  offset: number,
  make: (rule: LintRuleId, message: string, at: number) => LintFinding | undefined,
): GradableFinding[] {
  return directives.problems.flatMap(({ index, message }) => {
    const finding = make('lint-ignore-invalid', message, offset + index);
    return finding === undefined ? [] : [{ finding, table: undefined }];
  });
}

/** Record what `statement` creates: later statements of the migration on it are exempt. */
function trackCreated({ kind, node }: LintStatement, created: CreatedObjects): void {
  const table =
    kind === 'CreateStmt'
      ? tableOf(node.relation)
      : kind === 'CreateTableAsStmt'
        ? tableOf(unwrap(node.into, 'IntoClause')?.rel ?? asNode(node.into)?.rel)
        : undefined;
  if (table !== undefined) created.addTable(table);
  const index = kind === 'IndexStmt' ? stringOf(node, 'idxname') : undefined;
  if (index !== undefined) created.addIndex(index);
}
