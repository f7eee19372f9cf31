/** `offloop fleet work`: a host of a queued fleet run, taking target jobs from a pg-boss queue. */
import { configSchema, count, fleetSchema, type ConfigIssue } from '@offloop/core';
import { defineCommand } from '../command.ts';
import { EXIT_OK } from '../exit-codes.ts';
import {
  QUEUE_FLAGS,
  QUEUE_WORK_FLAGS,
  readRequiredQueue,
  readQueueWork,
} from '../fleet/queue-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';
import { unexpectedArguments, usageError } from '../flags/usage-error.ts';
import { formatDuration } from '../format.ts';
import { loadConfig } from '../load-config.ts';

/** The migrator's options but the database's: each job names its target. */
const MIGRATOR_FLAGS = optionFlags(configSchema, ['cwd', 'url', 'lockUrl']);

/** How the host's own fleet runs the targets it takes. */
const HOST_SCHEMA = fleetSchema.pick({
  concurrency: true,
  threads: true,
  maxConnectionsPerServer: true,
});
const HOST_FLAGS = optionFlags(HOST_SCHEMA);

/** `offloop fleet work`: take jobs until stopped (or, with `--exit-when-idle`, until the queue is empty). */
export const fleetWorkCommand = defineCommand({
  name: 'fleet work',
  summary: 'Take target jobs from a fleet queue (fleet up --queue) until stopped',
  usage: 'offloop fleet work --queue <control-db-url> [options]',
  description:
    'Join a fleet run shared through a pg-boss queue: take the target jobs that offloop fleet up ' +
    "--queue sent, --concurrency at once, and migrate each target on this host's worker threads " +
    "with its own lock and ledger (the migration files are this host's --dir). An applied target " +
    'completes its job; a failed one fails it, and the queue retries it, on any host, up to its ' +
    'limit, then moves it to the dead-letter queue. A host that dies loses nothing: its jobs go ' +
    'back to the queue when their heartbeat stops, and a repeat of a target applies only what is ' +
    'pending. Runs until SIGINT or SIGTERM (no new job; targets in flight get --stop-grace, then ' +
    'are cancelled and go back to the queue), or with --exit-when-idle until the queue has been ' +
    'empty for --idle-time. Passwords are not in the queue: each host finds them as libpq does ' +
    '(PGPASSWORD, ~/.pgpass). docs/fleet.md explains how to run it.',
  flags: { ...QUEUE_FLAGS, ...HOST_FLAGS, ...QUEUE_WORK_FLAGS, ...MIGRATOR_FLAGS },
  examples: [
    'offloop fleet work --queue postgres://ops@control/offloop --dir db/migrations',
    'offloop fleet work --queue "$CONTROL_URL" --concurrency 4 --exit-when-idle',
  ],

  async run(args, { io, output }) {
    const positional = unexpectedArguments('fleet work', args.positionals);
    if (positional.length > 0) throw usageError('fleet work', positional, args);
    const issues: ConfigIssue[] = [];
    const queue = readRequiredQueue(args.values, issues);
    const work = readQueueWork(args.values, issues);
    const host = readOptions(HOST_SCHEMA, HOST_FLAGS, args.values, issues);
    // Throws with every problem found above, a missing --queue among them.
    const config = await loadConfig(args, io, { database: false, issues });
    output.addSecrets([queue.controlUrl, ...config.secrets]);
    output.setMigrationsDir(config.dir);

    const { createFleet } = await import('@offloop/worker');
    const { workQueue } = await import('../fleet/queue-worker.ts');
    // A fleet with no targets of its own: each job names one.
    await using fleet = createFleet({ ...config.options, ...host, targets: [] });
    const result = await workQueue(fleet, {
      ...queue,
      ...work,
      concurrency: fleet.config.concurrency,
      signal: io.signal,
      onNotice: (message) => output.notice(message),
      onJob: (job, target) => {
        const what =
          target.outcome === 'applied'
            ? target.applied.length === 0
              ? 'up to date'
              : `applied ${count(target.applied.length, 'migration')}, now at ${target.version ?? '?'}`
            : `${target.outcome}: ${target.error?.code ?? ''} ${target.error?.message ?? ''}`;
        const attempt = job.retryCount === 0 ? '' : ` (attempt ${job.retryCount + 1})`;
        // PostgreSQL's DETAIL goes to this host's output only: the queue does not keep it.
        const detail = target.error?.detail == null ? '' : ` (detail: ${target.error.detail})`;
        output.notice(
          `${target.target}: ${what}${detail} in ${formatDuration(target.durationMs)}${attempt}`,
        );
      },
    });
    output.result(result, () => [
      `${count(result.completed, 'target')} migrated, ${result.failed} failed on this host; ` +
        (result.stoppedBy === 'idle' ? 'the queue is empty.' : 'stopped.'),
    ]);
    return EXIT_OK;
  },
});
