/** `offloop fleet`: one set of migration files over many targets (tenant schemas, tenant databases). */
import { defineGroup } from '../command.ts';
import { fleetWorkCommand } from './fleet-work.ts';
import { fleetCheckCommand } from './fleet/check.ts';
import { fleetStatusCommand } from './fleet/status.ts';
import { fleetUpCommand } from './fleet/up.ts';

/** `offloop fleet <command>`: `up` (with `--queue`, through pg-boss), `status`, `check`, `work`. */
export const fleetCommand = defineGroup({
  name: 'fleet',
  summary: 'Migrate many targets (tenant schemas or databases) with one set of files',
  usage: 'offloop fleet <command> [options]',
  description:
    'A fleet is one migrations directory applied to many targets: every schema of a database ' +
    'that matches --schemas, the lines of a --targets file, or the rows of a --targets-query. ' +
    'Each target is migrated by an ordinary up with its own lock and version table, many at ' +
    'once on a pool of worker threads; one query per database skips the targets already up to ' +
    'date. With --queue, fleet up sends one job per target to a pg-boss queue that fleet work ' +
    'hosts take from. See docs/fleet.md.',
  subcommands: [fleetUpCommand, fleetStatusCommand, fleetCheckCommand, fleetWorkCommand],
  examples: [
    "offloop fleet up --url postgres://app@db/app --schemas 'tenant_*'",
    "offloop fleet status --url postgres://app@db/app --schemas 'tenant_*'",
    'offloop fleet check --targets targets.txt',
    'offloop fleet work --queue "$CONTROL_URL" --exit-when-idle',
  ],
});
