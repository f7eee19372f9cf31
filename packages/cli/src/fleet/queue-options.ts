/**
 * The options of a fleet run shared through a pg-boss queue (`offloop fleet up --queue`,
 * `offloop fleet work`), declared once as schemas with their metadata: the flags and their help
 * come from here (`optionFlags`), and the same schemas check the values.
 */
import { configSchema, duration, DURATION, option, type ConfigIssue } from '@offloop/core';
import { z } from 'zod';
import { optionFlags, readOptions } from '../flags/option-flags.ts';

/** pg-boss keeps a job active at most 24 hours. */
const DAY_MS = 24 * 60 * 60 * 1000;

/** Where the queue is: taken by both commands. */
const queueSchema = z.strictObject({
  /** The control database pg-boss keeps the queue in (its schema `pgboss`, created on first use). */
  queue: option(configSchema.shape.url.optional(), {
    description:
      'Share the run through a pg-boss queue in this control database (its schema pgboss, ' +
      'created on first use): fleet up enqueues one job per target, fleet work hosts take them',
    placeholder: 'control-db-url',
  }),
  /** The queue's name; its dead-letter queue is `<name>.dead`. @default "offloop-fleet" */
  queueName: option(
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,50}$/, 'letters, digits, _ and -, at most 50')
      .default('offloop-fleet'),
    {
      description:
        'The queue, for several fleets on one control database; its dead-letter queue is ' +
        '<name>.dead',
      placeholder: 'name',
    },
  ),
});

/** How each target's job is sent (`fleet up --queue`): its retries and how a lost host is noticed. */
export const queueSendSchema = z.strictObject({
  /**
   * A host taking a job writes a heartbeat this often / 2; a job whose heartbeat is older than this
   * goes back to the queue (its host died), within a few more seconds. At least 10 s (pg-boss).
   * @default 30s
   */
  heartbeat: option(
    duration.default(30_000).refine((ms) => ms >= 10_000, 'must be at least 10s (pg-boss)'),
    {
      ...DURATION,
      description:
        "How soon a dead host's job goes back to the queue: its heartbeat is older than this " +
        '(at least 10s)',
    },
  ),
  /** The longest one target's run may take before its job is failed (and retried). @default 1h */
  jobTimeout: option(
    duration.default(3_600_000).refine((ms) => ms >= 1000 && ms <= DAY_MS, 'between 1s and 24h'),
    {
      ...DURATION,
      description:
        "The longest one target's run may take; then it is cancelled and its job retried (at most 24h)",
    },
  ),
  /** Attempts after the first before a target's job goes to the dead-letter queue. @default 3 */
  retryLimit: option(z.number().int().min(0).max(100).default(3), {
    description: "Attempts after the first before a target's job goes to the dead-letter queue",
    placeholder: 'n',
    decode: 'count',
  }),
  /** The first pause before a retry, doubled each time (at most 5 minutes). @default 10s */
  retryDelay: option(
    duration.default(10_000).refine((ms) => ms >= 1000, 'must be at least 1s'),
    { ...DURATION, description: 'The first pause before a retry, doubled each time (up to 5m)' },
  ),
});

/** How a host takes jobs (`fleet work`). */
export const queueWorkSchema = z.strictObject({
  /** Exit once the queue has had no job waiting or running for `idleTime`. @default false */
  exitWhenIdle: option(z.boolean().default(false), {
    description:
      'Exit once the queue has had no job waiting or running for --idle-time (a Kubernetes Job, ' +
      'a test); without it, run until SIGINT or SIGTERM',
  }),
  /** With `exitWhenIdle`: how long the queue must stay empty. @default 30s */
  idleTime: option(duration.default(30_000), {
    ...DURATION,
    description: 'With --exit-when-idle: how long the queue must stay empty',
  }),
  /**
   * On SIGINT/SIGTERM, no new job is taken and the targets in flight may finish for this long;
   * then they are cancelled (rolled back) and their jobs go back to the queue. @default 60s
   */
  stopGrace: option(duration.default(60_000), {
    ...DURATION,
    description:
      'On SIGINT or SIGTERM: how long targets in flight may finish before they are cancelled ' +
      'and their jobs go back to the queue',
  }),
});

/** Where the queue is, resolved. */
export type QueueLocation = { readonly controlUrl: string; readonly queueName: string };

/** How jobs are sent, resolved (milliseconds). */
export type QueueSendOptions = z.output<typeof queueSendSchema>;

/** How a host takes jobs, resolved (milliseconds). */
export type QueueWorkOptions = z.output<typeof queueWorkSchema>;

/** `--queue` and `--queue-name`: taken by `fleet up` (with `--queue`, the run goes through the queue) and `fleet work`. */
export const QUEUE_FLAGS = optionFlags(queueSchema);

/** `--heartbeat`, `--job-timeout`, `--retry-limit`, `--retry-delay`: how `fleet up --queue` sends each job. */
export const QUEUE_SEND_FLAGS = optionFlags(queueSendSchema);

/** `--exit-when-idle`, `--idle-time`, `--stop-grace`: how `fleet work` runs. */
export const QUEUE_WORK_FLAGS = optionFlags(queueWorkSchema);

type FlagTexts = Readonly<Record<string, string | boolean | undefined>>;

/** The queue the flags name, or null without `--queue`; problems go on `issues`. */
export function readQueueLocation(values: FlagTexts, issues: ConfigIssue[]): QueueLocation | null {
  const { queue, queueName } = readOptions(queueSchema, QUEUE_FLAGS, values, issues);
  return queue === undefined ? null : { controlUrl: queue, queueName };
}

/**
 * The queue the flags name, for a command that needs one: a missing `--queue` goes on `issues`
 * (the location returned then is not to be used: the caller reports the issues first).
 */
export function readRequiredQueue(values: FlagTexts, issues: ConfigIssue[]): QueueLocation {
  const location = readQueueLocation(values, issues);
  if (location !== null) return location;
  if (values['queue'] === undefined)
    issues.push({ path: '--queue', message: 'required: the control database of the queue' });
  return { controlUrl: '', queueName: '' };
}

/** How `fleet up --queue` sends jobs, from its flags. */
export function readQueueSend(values: FlagTexts, issues: ConfigIssue[]): QueueSendOptions {
  return readOptions(queueSendSchema, QUEUE_SEND_FLAGS, values, issues);
}

/** How `fleet work` runs, from its flags. */
export function readQueueWork(values: FlagTexts, issues: ConfigIssue[]): QueueWorkOptions {
  return readOptions(queueWorkSchema, QUEUE_WORK_FLAGS, values, issues);
}
