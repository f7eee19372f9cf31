/** `offloop fleet status`: where each target of a fleet stands. */
import type { FleetStatusResult, TargetState, TargetStatus } from '@offloop/core';
import { defineFleetCommand, type FleetRenderContext } from '../../fleet-command.ts';
import { DATABASE_FLAGS } from '../../flags/database-options.ts';
import { FLEET_READ_FLAGS } from '../../flags/fleet-options.ts';
import { formatTimestamp, table } from '../../format.ts';
import { bounded } from '../../output/fleet-progress.ts';

/** At most this many targets are named in a list; then how many more. */
const LIST_LIMIT = 20;

/** `offloop fleet status`: how many targets at each version, and which are not up to date, why. */
export const fleetStatusCommand = defineFleetCommand({
  name: 'fleet status',
  summary: 'Show how many targets are at each version, and which are behind or failed',
  usage: 'offloop fleet status [options]',
  description:
    'Read where every target of the fleet stands, with one query per database: how many ' +
    'targets are at each version, and which are behind (files pending), failed (their last run ' +
    'failed: with its error), diverged (an applied file was edited or is gone: up refuses them) ' +
    'or unreachable. Reads only; takes no lock. Exits 0 when the status could be read; use ' +
    'offloop fleet check to fail when a target is not up to date.',
  flags: { ...FLEET_READ_FLAGS, ...DATABASE_FLAGS },
  examples: [
    "offloop fleet status --url postgres://app@db.internal/app --schemas 'tenant_*'",
    "offloop fleet status --schemas 'tenant_*' --json | jq '.counts'",
  ],

  call: (fleet, _values, { signal }) => fleet.status({ signal }),
  render: (result, context) => renderStatus(result, context),
});

/** The human status: versions, counts, and the targets not up to date by state. */
function renderStatus(result: FleetStatusResult, context: FleetRenderContext): string[] {
  const { counts } = result;
  if (counts.total === 0) return [noTargets(context)];
  // The files are read where a database is scanned: with none readable, nothing says.
  const latest =
    result.latest !== null
      ? `newest file ${result.latest}`
      : counts.unreachable === counts.total
        ? 'no database could be read'
        : 'no migration files';
  const lines = [
    `Fleet: ${counts.total} target${counts.total === 1 ? '' : 's'}; ${latest}`,
    '',
    ...table([
      ['VERSION', 'TARGETS'],
      ...result.versions.map((entry) => [
        `${entry.version ?? 'none'}${entry.version !== null && entry.version === result.latest ? ' (latest)' : ''}`,
        String(entry.count),
      ]),
    ]),
    '',
    `${counts['up-to-date']} up to date, ${counts.behind} behind, ${counts.failed} failed, ` +
      `${counts.diverged} diverged, ${counts.unreachable} unreachable.`,
  ];
  return [...lines, ...notUpToDate(result.targets)];
}

const STATES: readonly Exclude<TargetState, 'up-to-date'>[] = [
  'failed',
  'diverged',
  'unreachable',
  'behind',
];

/** The targets not up to date, by state: names for `behind` and `diverged`, each with its error for the others. */
export function notUpToDate(targets: readonly TargetStatus[]): string[] {
  const lines: string[] = [];
  for (const state of STATES) {
    const of = targets.filter((target) => target.state === state);
    if (of.length === 0) continue;
    const title = `${state[0]?.toUpperCase() ?? ''}${state.slice(1)} (${of.length})`;
    if (state === 'behind' || state === 'diverged') {
      lines.push(`${title}: ${bounded(of.map(describeBehind), LIST_LIMIT)}`);
      continue;
    }
    lines.push(`${title}:`);
    for (const target of of.slice(0, LIST_LIMIT)) lines.push(`  ${describeError(target)}`);
    if (of.length > LIST_LIMIT) lines.push(`  and ${of.length - LIST_LIMIT} more`);
  }
  return lines;
}

function describeBehind(target: TargetStatus): string {
  return target.state === 'behind' && target.pendingCount > 0
    ? `${target.target} (${target.pendingCount} pending)`
    : target.target;
}

/**
 * `tenant_7 at 20260101000001, 20260101000002 failed: division by zero (2026-01-01 12:00:00 UTC)`:
 * where the target is, then the migration that failed (not where the target is).
 */
function describeError(target: TargetStatus): string {
  const error = target.lastError;
  if (error === null) return target.target;
  const [message = ''] = error.message.split('\n');
  const at =
    error.version === ''
      ? ''
      : `${target.version === null ? ', nothing applied' : ` at ${target.version}`}, ${error.version} failed`;
  const when = target.state === 'unreachable' ? '' : ` (${formatTimestamp(error.at)})`;
  return `${target.target}${at}: ${message}${when}`;
}

/** `No targets found: no schema of postgres://app@db/app matches --schemas 'tenat_*'.` */
export function noTargets(context: FleetRenderContext): string {
  return context.searched === '' ? 'No targets found.' : `No targets found: ${context.searched}.`;
}
