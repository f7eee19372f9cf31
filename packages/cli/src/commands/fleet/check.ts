/** `offloop fleet check`: exit 0 only when every target of a fleet is up to date; for CI gates. */
import { FleetBehindError, type FleetStatusResult } from '@offloop/core';
import { EXIT_CODES } from '../../exit-codes.ts';
import { defineFleetCommand, type FleetRenderContext } from '../../fleet-command.ts';
import { DATABASE_FLAGS } from '../../flags/database-options.ts';
import { ALLOW_EMPTY_FLAG, FLEET_READ_FLAGS } from '../../flags/fleet-options.ts';
import { notUpToDate, noTargets } from './status.ts';

/** `offloop fleet check`: FLEET_BEHIND, and the targets not up to date, unless all are. */
export const fleetCheckCommand = defineFleetCommand({
  name: 'fleet check',
  summary: 'Exit 0 when every target is up to date, else list those that are not',
  usage: 'offloop fleet check [options]',
  description:
    'Check that every target of the fleet has every migration applied, with one query per ' +
    `database. Exits 0 when they do; otherwise lists the targets that do not (behind, failed, ` +
    `diverged, unreachable) and exits ${EXIT_CODES.FLEET_BEHIND} (FLEET_BEHIND). A fleet that finds ` +
    `no target exits ${EXIT_CODES.FLEET_EMPTY} (FLEET_EMPTY) unless --allow-empty. Reads only: ` +
    'takes no lock, creates nothing. For CI gates after a deploy.',
  flags: { ...FLEET_READ_FLAGS, ...ALLOW_EMPTY_FLAG, ...DATABASE_FLAGS },
  examples: [
    "offloop fleet check --url postgres://app@db.internal/app --schemas 'tenant_*'",
    'offloop fleet check --targets targets.txt --json',
  ],

  call: (fleet, _values, { signal }) => fleet.check({ signal }),
  resultOf: (error) => (error instanceof FleetBehindError ? error : undefined),
  targetCount: (result) => result.counts.total,
  render: (result, context) => renderCheck(result, context),
});

function renderCheck(result: FleetStatusResult, context: FleetRenderContext): string[] {
  const { counts } = result;
  const upToDate = counts['up-to-date'];
  if (counts.total === 0) return [noTargets(context)];
  if (upToDate === counts.total) {
    const at = result.latest === null ? '' : ` at ${result.latest}`;
    return [
      `OK: all ${counts.total} target${counts.total === 1 ? ' is' : 's are'} up to date${at}.`,
    ];
  }
  return [
    `${counts.total - upToDate} of ${counts.total} targets are not up to date:`,
    ...notUpToDate(result.targets),
  ];
}
