/**
 * `offloop fleet <command>`: one set of migration files over many targets. In this branch only the
 * queued run: `fleet up --queue` (every target through a pg-boss queue, followed to the end) and
 * `fleet work` (a host taking its jobs). The direct `fleet up`, `status` and `check` come with the
 * fleet commands; `--queue` then joins their `up` (see `fleet/queue.ts`, `enqueueAndFollow`).
 */
import { count, fleetSchema, type ConfigIssue, type FleetEvent } from '@offloop/core';
import { defineCommand, type Command } from '../command.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';
import { unexpectedArguments, UsageError, usageError } from '../flags/usage-error.ts';
import {
  QUEUE_FLAGS,
  QUEUE_SEND_FLAGS,
  readQueueSend,
  readRequiredQueue,
} from '../fleet/queue-options.ts';
import { formatDuration } from '../format.ts';
import { commandHelp } from '../help.ts';
import { loadConfig } from '../load-config.ts';
import { createOutput, type Output } from '../output/output.ts';
import { fleetWorkCommand } from './fleet-work.ts';

/** Where the targets come from. */
const TARGET_SCHEMA = fleetSchema.pick({ schemas: true, targetsQuery: true, controlUrl: true });
const TARGET_FLAGS = optionFlags(TARGET_SCHEMA);

/** `offloop fleet up --queue`: enqueue one job per target, follow them to the end. */
const fleetUpCommand = defineCommand({
  name: 'up',
  summary: 'Migrate every target through a pg-boss queue that fleet work hosts take from',
  usage: 'offloop fleet up --queue <control-db-url> [options]',
  description:
    'Find the targets (--schemas in --url, or --targets-query), leave out those already up to ' +
    'date, and send one job per target to the queue in the control database; then follow the ' +
    'jobs until each has completed or failed for good, printing progress as targets finish. The ' +
    'targets are migrated by the hosts running offloop fleet work. A target is never queued ' +
    'twice at once; a failed job is retried (--retry-limit, --retry-delay), then moved to the ' +
    "dead-letter queue; a dead host's job goes back to the queue after --heartbeat. Exits 0 " +
    'when every target is up to date, 4 (FLEET_FAILED) otherwise; --json prints each ' +
    "target's result.",
  flags: { ...QUEUE_FLAGS, ...QUEUE_SEND_FLAGS, ...TARGET_FLAGS, ...DATABASE_FLAGS },
  examples: [
    "offloop fleet up --queue postgres://ops@control/offloop --url postgres://app@db/app --schemas 'tenant_*'",
    'offloop fleet up --queue "$CONTROL_URL" --targets-query "select url, schema from tenants" --json',
  ],

  async run(args, { io, output }) {
    const positional = unexpectedArguments('fleet up', args.positionals);
    if (positional.length > 0) throw usageError('fleet up', positional, args);
    const issues: ConfigIssue[] = [];
    const queue = readRequiredQueue(args.values, issues);
    const send = readQueueSend(args.values, issues);
    const targets = readOptions(TARGET_SCHEMA, TARGET_FLAGS, args.values, issues);
    const config = await loadConfig(args, io, { database: true, issues });
    output.addSecrets([queue.controlUrl, ...config.secrets]);
    output.setMigrationsDir(config.dir);

    const { createFleet } = await import('@offloop/worker');
    const { enqueueAndFollow } = await import('../fleet/queue.ts');
    await using fleet = createFleet({
      ...config.options,
      ...(config.url === null ? {} : { url: config.url }),
      ...targets,
    });
    const result = await enqueueAndFollow(fleet, {
      ...queue,
      ...send,
      signal: io.signal,
      onNotice: (message) => output.notice(message),
      onProgress: progressOf(output),
    });
    output.result(result, () => [
      `${count(result.counts.total, 'target')} up to date (${result.counts.applied} migrated, ` +
        `${result.counts['up-to-date']} already were) in ${formatDuration(result.durationMs)}`,
    ]);
    return EXIT_OK;
  },
});

/** Progress lines on stderr, as targets finish (none with `--json`). */
function progressOf(output: Output): (event: FleetEvent) => void {
  let total = 0;
  let done = 0;
  let failed = 0;
  return (event) => {
    if (output.json) return;
    switch (event.type) {
      case 'fleet:planned':
        total = event.toRun;
        output.notice(
          `${count(event.total, 'target')}: ${event.upToDate} up to date, ${event.toRun} to run`,
        );
        return;
      case 'target:finished': {
        done += 1;
        const { result } = event;
        if (result.outcome === 'failed') failed += 1;
        const what =
          result.outcome === 'failed'
            ? `failed: ${result.error?.code ?? ''} ${result.error?.message ?? ''}`
            : `${result.outcome}, ${count(result.applied.length, 'migration')}`;
        output.notice(`[${done}/${total}, ${failed} failed] ${result.target}: ${what}`);
        return;
      }
      case 'target:started':
      case 'fleet:stopping':
      case 'fleet:finished':
        return;
    }
  };
}

/** The subcommands of `offloop fleet`. */
const SUBCOMMANDS: readonly Command[] = [fleetUpCommand, fleetWorkCommand];

const FLEET_HELP = {
  name: 'fleet',
  summary: 'Many targets, one set of files: fleet up --queue, fleet work (docs/fleet.md)',
  usage: 'offloop fleet <command> [options]',
  description:
    'Migrate many targets (tenant schemas, tenant databases) with one set of migration files. ' +
    'Commands: up --queue (send one job per target to a pg-boss queue and follow them), work ' +
    '(a host that takes those jobs). offloop fleet <command> --help shows its options.',
  flags: {},
  examples: [
    'offloop fleet up --queue "$CONTROL_URL" --url "$DATABASE_URL" --schemas \'tenant_*\'',
    'offloop fleet work --queue "$CONTROL_URL" --exit-when-idle',
  ],
} as const;

/** `offloop fleet`: dispatches to its subcommand. */
export const fleetCommand: Command = {
  ...FLEET_HELP,
  run(argv, io) {
    const [name, ...rest] = argv;
    const subcommand = SUBCOMMANDS.find((candidate) => candidate.name === name);
    if (subcommand !== undefined) return subcommand.run(rest, io);
    if (name === '-h' || name === '--help' || name === 'help') {
      io.stdout.write(commandHelp(FLEET_HELP));
      return Promise.resolve(EXIT_OK);
    }
    const names = SUBCOMMANDS.map((candidate) => candidate.name).join(', ');
    const problem = `expected a fleet command: one of ${names}`;
    const error = new UsageError(
      `Invalid command line: fleet ${name ?? ''}: ${problem}`,
      [{ path: name ?? 'fleet', message: problem }],
      'fleet',
    );
    return Promise.resolve(createOutput(io, argv.includes('--json')).fail(error));
  },
};
