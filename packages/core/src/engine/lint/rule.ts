/**
 * What a lint rule is: a pure function from one statement of a migration, and what the migration
 * did before it, to what it finds. Rules read parse nodes only; where a finding points, how bad
 * it is and whether it is silenced is decided around them (`lint-file.ts`, `live.ts`).
 */
import type { LintRuleId } from '../../model/lint.ts';
import type { SectionOptions } from '../../model/migration.ts';
import type { Node, TableRef } from './nodes.ts';

/** One statement of a migration's `up` section, as the rules see it. */
export type LintStatement = {
  /** The parse node's type (`AlterTableStmt`, ...). */
  readonly kind: string;
  readonly node: Node;
  /** Its place in the section, from 0. */
  readonly index: number;
};

/** What one rule found: the rule, what is wrong, where (a node's byte offset) and about which table. */
export type Hit = {
  readonly rule: LintRuleId;
  readonly message: string;
  /** Byte offset of the node it is about in the section's text; the statement's start if absent. */
  readonly location?: number | undefined;
  /** The table whose size makes it worse, for grading when connected. */
  readonly table?: TableRef | undefined;
};

/** Tables and indexes a migration creates: no one else uses them yet, so rules skip them. */
export class CreatedObjects {
  readonly #tables = new Set<string>();
  readonly #indexes = new Set<string>();

  /** Record a table created by this migration. */
  addTable(table: TableRef): void {
    this.#tables.add(table.relname);
  }

  /** Record an index created by this migration. */
  addIndex(name: string): void {
    this.#indexes.add(name);
  }

  /**
   * Whether `table` was created earlier in this migration. Matched by name without its schema: a
   * migration rarely creates `a.t` and alters `b.t`, and a missed finding there is the cheap error.
   */
  hasTable(table: TableRef | undefined): boolean {
    return table !== undefined && this.#tables.has(table.relname);
  }

  /** Whether the index named by the last part of `name` was created earlier in this migration. */
  hasIndex(name: readonly string[]): boolean {
    const last = name.at(-1);
    return last !== undefined && this.#indexes.has(last);
  }
}

/**
 * `CHECK (column IS NOT NULL)` constraints seen so far in the run, across migrations in order:
 * a validated one lets `SET NOT NULL` skip its scan (PostgreSQL 12+).
 */
export class NotNullChecks {
  readonly #byName = new Map<string, string>();
  readonly #validated = new Set<string>();

  /** Record a check on `table.column`, named `name`, validated or not. */
  add(table: TableRef, column: string, name: string | undefined, validated: boolean): void {
    const key = `${table.relname}.${column}`;
    if (name !== undefined) this.#byName.set(`${table.relname}:${name}`, key);
    if (validated) this.#validated.add(key);
  }

  /** `ALTER TABLE table VALIDATE CONSTRAINT name`. */
  validate(table: TableRef, name: string): void {
    const key = this.#byName.get(`${table.relname}:${name}`);
    if (key !== undefined) this.#validated.add(key);
  }

  /** Whether `table.column` has a validated not-null check. */
  isValidated(table: TableRef, column: string): boolean {
    return this.#validated.has(`${table.relname}.${column}`);
  }
}

/** What a rule knows besides its statement. */
export type RuleContext = {
  /** Whether the migration runs in one transaction. */
  readonly transactional: boolean;
  /** The marker line's options. */
  readonly options: SectionOptions;
  /** The configured `statementLockTimeout` in ms; 0 means none. */
  readonly configLockTimeout: number;
  /** The PostgreSQL major version assumed; null for the newest. */
  readonly postgresVersion: number | null;
  /** Created earlier in this migration. */
  readonly created: CreatedObjects;
  readonly notNullChecks: NotNullChecks;
  /** Every statement of the section, for rules about what comes after. */
  readonly statements: readonly LintStatement[];
};

/** A lint rule (or a family of them): what it finds in one statement. */
export type Rule = (statement: LintStatement, context: RuleContext) => readonly Hit[];

/** Whether the assumed server is older than major version `major` (unknown: the newest, so no). */
export function olderThan(context: RuleContext, major: number): boolean {
  return context.postgresVersion !== null && context.postgresVersion < major;
}
