/** A fleet's status, from its scan: where each target stands, and how many stand where. */
import {
  FleetBehindError,
  type FleetStatusResult,
  type TargetState,
  type TargetStatus,
} from '@offloop/core';
import type { Scanned } from './scanner.ts';
import { namesOf } from './targets.ts';

/** Where one target stands, from its scan. */
export function targetStatus({ target, scan }: Scanned): TargetStatus {
  return {
    ...namesOf(target),
    state: scan.state,
    version: scan.version,
    appliedCount: scan.appliedCount,
    pendingCount: scan.pendingCount,
    lastError: scan.lastError,
  };
}

/** A fleet's status from its scan. */
export function statusOf(scanned: readonly Scanned[], latest: string | null): FleetStatusResult {
  const targets = scanned.map(targetStatus);
  const counts = {
    total: targets.length,
    'up-to-date': 0,
    behind: 0,
    failed: 0,
    diverged: 0,
    unreachable: 0,
  } satisfies Record<TargetState | 'total', number>;
  const versions = new Map<string | null, number>();
  for (const target of targets) {
    counts[target.state] += 1;
    versions.set(target.version, (versions.get(target.version) ?? 0) + 1);
  }
  return {
    targets,
    latest,
    versions: [...versions]
      .map(([version, count]) => ({ version, count }))
      .sort((a, b) => (b.version ?? '').localeCompare(a.version ?? '')),
    counts,
  };
}

/** `status` when every target is up to date; a `FleetBehindError` (`FLEET_BEHIND`) otherwise. */
export function assertUpToDate(status: FleetStatusResult): FleetStatusResult {
  if (status.counts['up-to-date'] === status.counts.total) return status;
  const behind = status.counts.total - status.counts['up-to-date'];
  throw new FleetBehindError(
    `${behind} of ${status.counts.total} targets are not up to date ` +
      `(${describeCounts(status.counts)}); ${adviceFor(status.counts)}.`,
    status,
  );
}

/** What to do about the targets that are not up to date, by what they are. */
function adviceFor(counts: FleetStatusResult['counts']): string {
  const advice: string[] = [];
  if (counts.behind + counts.failed > 0) advice.push('run offloop fleet up');
  if (counts.unreachable > 0)
    advice.push(
      `${counts.unreachable === 1 ? 'the unreachable target' : 'the unreachable targets'} could ` +
        'not be read: check the server and the credentials, then check again',
    );
  if (counts.diverged > 0)
    advice.push(
      'a diverged target had an applied file edited or removed: fleet up refuses it until you ' +
        'look (offloop check --url <its database> --schema <its schema> explains)',
    );
  return advice.join('; ');
}

/** Counts as words, the zeros and the total left out: `3 applied, 1 failed`. */
export function describeCounts(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([key, count]) => key !== 'total' && count > 0)
    .map(([key, count]) => `${count} ${key}`)
    .join(', ');
}
