/** Files and version-table rows for the planner's unit tests: no disk, no database. */
import type { AppliedMigration, MigrationFile } from '@offloop/core';

/** A module migration file at `version` (`m<version>`), with a checksum derived from it. */
export const file = (version: string, checksum = `sum-${version}`): MigrationFile => ({
  kind: 'module',
  version,
  name: `m${version}`,
  file: `${version}_m${version}.ts`,
  path: `/m/${version}_m${version}.ts`,
  checksum,
});

/** The version-table row of {@link file} applied, with the same checksum unless given. */
export const row = (version: string, checksum = `sum-${version}`): AppliedMigration => ({
  version,
  name: `m${version}`,
  checksum,
  appliedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  appliedBy: 'test',
});
