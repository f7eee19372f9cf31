/**
 * The DDL of offloop's own tables as text, shared by the engine and the offline SQL scripts so
 * the two cannot drift. Identifiers are validated by the config schema and quoted here.
 */
import type { ResolvedConfig } from '../config/config.ts';

/**
 * Where offloop's tables are (the ledger): the version table's schema and name (the log table is
 * `<table>_log`, beside it). Built from the configuration by {@link versionTableOf}: its `schema`
 * is the config's `migrationsSchema`, not the schema migrations run in.
 */
export type VersionTable = { readonly schema: string; readonly table: string };

/** The ledger's location in `config`: `migrationsSchema` and `table`. */
export function versionTableOf(
  config: Pick<ResolvedConfig, 'migrationsSchema' | 'table'>,
): VersionTable {
  return { schema: config.migrationsSchema, table: config.table };
}

/**
 * The `search_path` migrations run with: their schema first, then `public` (where extensions are
 * usually installed, as django-tenants does); `public` alone when that is their schema.
 */
export function searchPathFor(schema: string): string {
  return schema === 'public' ? 'public' : `${quoteIdentifier(schema)}, public`;
}

/** Quote an identifier for PostgreSQL (double quotes, inner quotes doubled). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Quote a string literal. One with a backslash becomes an escape string (`E'...'`), which reads
 * the same whatever `standard_conforming_strings` a migration set.
 */
export function quoteLiteral(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** `"schema"."table"` of the version table. */
export function versionTableName(versionTable: VersionTable): string {
  return `${quoteIdentifier(versionTable.schema)}.${quoteIdentifier(versionTable.table)}`;
}

/** The log table's name, unquoted: `<table>_log`, in the version table's schema. */
export function logTableOf(versionTable: VersionTable): string {
  return `${versionTable.table}_log`;
}

/** `"schema"."table_log"` of the log table. */
export function logTableName(versionTable: VersionTable): string {
  return `${quoteIdentifier(versionTable.schema)}.${quoteIdentifier(logTableOf(versionTable))}`;
}

/** `create table if not exists` for the version table. */
export function versionTableDdl(versionTable: VersionTable): string {
  return `create table if not exists ${versionTableName(versionTable)} (
  version text primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now(),
  duration_ms integer not null,
  applied_by text not null
)`;
}

/** Columns added to the log table since its first version, with their types: an older table gets them (`ensureLogColumns`). */
export const LOG_TABLE_ADDED_COLUMNS = [['attempts', 'integer']] as const;

/** `create table if not exists` for the log table. */
export function logTableDdl(versionTable: VersionTable): string {
  return `create table if not exists ${logTableName(versionTable)} (
  id bigint generated always as identity primary key,
  version text not null,
  name text not null,
  direction text not null,
  checksum text,
  outcome text not null,
  applied_by text not null,
  at timestamptz not null default clock_timestamp(),
  duration_ms integer,
  error text,
  statements_run integer,
  attempts integer
)`;
}
