/**
 * `@offloop/testing`: a fresh, migrated PostgreSQL database per test, in milliseconds.
 * The template is migrated once through offloop's worker thread (keyed by the migrations'
 * checksums, reused across test runs), and clones are kept ready in the background.
 * See `docs/testing.md` for the ava and node:test recipes.
 */
// First: core's entry refuses a Node.js older than offloop needs, before any other module runs.
import '@offloop/core';
export { createTestDatabases } from './test-databases.ts';
export { projectId } from './project.ts';
export type {
  PoolStats,
  PruneResult,
  TemplateInfo,
  TestDatabase,
  TestDatabases,
  TestDatabasesOptions,
} from './test-databases.ts';
