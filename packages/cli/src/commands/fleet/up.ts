/** `offloop fleet up`: bring every target of a fleet up to date. */
import {
  count,
  FleetFailedError,
  parseDuration,
  type ConfigIssue,
  type FleetUpResult,
} from '@offloop/core';
import { defineFleetCommand } from '../../fleet-command.ts';
import { DATABASE_FLAGS } from '../../flags/database-options.ts';
import { ALLOW_EMPTY_FLAG, FLEET_FLAGS } from '../../flags/fleet-options.ts';
import type { FlagSpecs } from '../../flags/spec.ts';
import { formatDuration } from '../../format.ts';
import { FleetProgress } from '../../output/fleet-progress.ts';
import { noTargets } from './status.ts';
import {
  QUEUE_FLAGS,
  QUEUE_SEND_FLAGS,
  readQueueLocation,
  readQueueSend,
} from '../../fleet/queue-options.ts';

/** `--timeout`: the whole fleet's time limit (a call option, not the fleet's). */
const TIMEOUT_FLAG = {
  timeout: {
    type: 'string',
    placeholder: 'duration',
    description:
      'Stop the fleet after this long: nothing more starts, targets in flight are cancelled and ' +
      'roll back; what finished stays',
    default: '0, none',
  },
} as const satisfies FlagSpecs;

/** `offloop fleet up`: every target's pending migrations, canaries first, progress on stderr. */
export const fleetUpCommand = defineFleetCommand({
  name: 'fleet up',
  summary: 'Apply pending migrations to every target; canaries first',
  usage: 'offloop fleet up [options]',
  description:
    'Bring every target of the fleet up to date. One query per database finds the targets ' +
    'already up to date, which do not run. The canaries (--canary, default 1) run first, alone: ' +
    'a failed canary stops the fleet before any other target is touched. Then the rest run, ' +
    '--concurrency at once over --threads worker threads, at most --max-connections-per-server ' +
    'connections to one server (a target takes 2). After a failure the fleet stops starting ' +
    'targets (--on-error stop; those in flight finish) or goes on (--on-error continue, up to ' +
    '--max-failures). Each target runs as offloop up does: its own lock, its own version table, ' +
    'one transaction per migration. Run it again to finish what a stopped run left: it skips ' +
    'what is done. With --queue, the targets go as jobs to a pg-boss queue in that control ' +
    'database, and the hosts running offloop fleet work migrate them (canaries and the failure ' +
    'policy do not apply: every target is tried, and retried); fleet up follows the jobs to the ' +
    'end. A fleet that finds no target fails (FLEET_EMPTY) unless --allow-empty. ' +
    `Exits 0 when every target is up to date, ` +
    `4 (FLEET_FAILED) when a target failed or the fleet stopped early. Progress goes to stderr ` +
    '(a bar on a terminal), the summary to stdout.',
  flags: {
    ...FLEET_FLAGS,
    ...ALLOW_EMPTY_FLAG,
    ...TIMEOUT_FLAG,
    ...QUEUE_FLAGS,
    ...QUEUE_SEND_FLAGS,
    ...DATABASE_FLAGS,
  },
  examples: [
    "offloop fleet up --url postgres://app@db.internal/app --schemas 'tenant_*'",
    "offloop fleet up --schemas 'tenant_*' --canary tenant_demo --on-error continue --max-failures 5%",
    'offloop fleet up --targets targets.txt --concurrency 16 --json',
    "offloop fleet up --control-url postgres://app@ctl/app --targets-query 'select url from tenants'",
    'offloop fleet up --queue "$CONTROL_URL" --url "$DATABASE_URL" --schemas \'tenant_*\'',
  ],

  check: (values) => {
    const issues = timeoutIssues(values.timeout);
    readQueueLocation(values, issues);
    readQueueSend(values, issues);
    return issues;
  },
  async call(fleet, values, { signal, output }) {
    using progress = new FleetProgress(output);
    const queue = readQueueLocation(values, []);
    if (queue === null)
      return fleet.up({ signal, timeout: values.timeout, onProgress: progress.onProgress });
    output.addSecrets([queue.controlUrl]);
    // pg-boss loads only for a queued run.
    const { enqueueAndFollow } = await import('../../fleet/queue.ts');
    return enqueueAndFollow(fleet, {
      ...queue,
      ...readQueueSend(values, []),
      signal,
      onNotice: (message) => output.notice(message),
      onProgress: progress.onProgress,
    });
  },
  resultOf: (error) => (error instanceof FleetFailedError ? error : undefined),
  targetCount: (result) => result.counts.total,
  render: (result, context) =>
    result.counts.total === 0 ? [summary(result), noTargets(context)] : [summary(result)],
});

/** The problems with `--timeout`. */
function timeoutIssues(text: string | undefined): ConfigIssue[] {
  if (text === undefined) return [];
  return typeof parseDuration(text) === 'number'
    ? []
    : [{ path: '--timeout', message: `not a duration (1500, 30s, 5m, 1h); got "${text}"` }];
}

/** `Fleet: 20 targets in 3.2 s: applied 5, up to date 15, failed 0, not run 0; all at 2026...` */
function summary(result: FleetUpResult): string {
  const { counts } = result;
  const parts = [
    `applied ${counts.applied}`,
    `up to date ${counts['up-to-date']}`,
    `failed ${counts.failed}`,
    ...(counts.cancelled > 0 ? [`cancelled ${counts.cancelled}`] : []),
    `not run ${counts['not-run']}`,
  ];
  const versions = new Set(result.targets.map((target) => target.version));
  const [only] = versions;
  // After a stop, every target at one version is where they were left, not where they should be.
  const short = counts.failed + counts.cancelled + counts['not-run'] > 0;
  const at =
    versions.size === 1 && only !== undefined && only !== null
      ? `; ${short ? 'all still' : 'all'} at ${only}`
      : '';
  return (
    `Fleet: ${count(counts.total, 'target')} in ${formatDuration(result.durationMs)}: ` +
    `${parts.join(', ')}${at}`
  );
}
