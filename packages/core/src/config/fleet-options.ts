/**
 * The options of a fleet (`createFleet()`, `offloop fleet ...`): every migrator option, which
 * each target's run takes, plus where the targets come from, how many run at once, the canary and
 * the failure policy. Declared once here, like the migrator's: the CLI's flags and `--help` come
 * from the metadata.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../errors/index.ts';
import type { FleetTarget } from '../model/fleet.ts';
import {
  configSchema,
  formatConfigIssues,
  identifier,
  parseConfig,
  postgresUrl,
  toConfigIssues,
  type ResolvedConfig,
} from './config.ts';
import { option } from './option-meta.ts';

/** Targets a library computes: called once per fleet call, before anything runs. */
export type TargetsCallback = () =>
  Iterable<FleetTarget> | AsyncIterable<FleetTarget> | Promise<Iterable<FleetTarget>>;

const targetSchema = z.strictObject({
  url: postgresUrl,
  schema: identifier.optional(),
});

/** A share of the targets (`"10%"`) or a count. */
const failureLimit = z.union([
  z.number().int().positive(),
  z.string().regex(/^\d+(\.\d+)?%$/, 'must be a count or a share such as "10%"'),
]);

const fleetFields = {
  url: configSchema.shape.url.optional(),
  /**
   * Every schema of `url`'s database whose name matches this glob (`*`: any characters, `?`: one)
   * is a target: `"tenant_*"`. offloop's own schemas (`pg_*`, `information_schema`) never are.
   */
  schemas: option(z.string().min(1).optional(), {
    description: "Every schema of --url's database matching this glob is a target: 'tenant_*'",
    placeholder: 'glob',
  }),
  /**
   * The targets: a list of `{ url, schema? }`, or a function that returns one (called once per
   * call). A target without `schema` runs in the fleet's `schema`.
   */
  targets: z
    .union([
      z.array(targetSchema),
      z.custom<TargetsCallback>((value) => typeof value === 'function', {
        message: 'must be a list of { url, schema? } or a function that returns one',
      }),
    ])
    .optional(),
  /**
   * A SQL query against `controlUrl` that lists the targets: a column `url` and, optionally, a
   * column `schema` (null for the fleet's `schema`): `select url, schema from tenants`.
   */
  targetsQuery: option(z.string().min(1).optional(), {
    description:
      'A query against --control-url listing the targets: a column url and, optionally, schema',
    placeholder: 'sql',
  }),
  /** The database `targetsQuery` runs against. @default url */
  controlUrl: option(postgresUrl.optional(), {
    description: 'The database --targets-query runs against (default: --url)',
    placeholder: 'url',
  }),
  /** Worker threads the fleet runs targets on. @default the machine's CPUs, at most 4 */
  threads: option(z.number().int().min(1).max(64).optional(), {
    description: 'Worker threads the fleet runs targets on (default: the CPUs, at most 4)',
    placeholder: 'n',
    decode: 'count',
  }),
  /**
   * Targets in flight at once, over all threads. More than the server's CPUs can run only queues
   * them up there, and slows everything else on the machines involved (on 2 CPUs shared with the
   * database, 8 at once finished no sooner than 4 and cost the host's loop more; see
   * docs/benchmarks.md). @default twice the CPUs, 4 to 16
   */
  concurrency: option(z.number().int().min(1).max(1000).optional(), {
    description: 'Targets migrated at once, over all threads (default: twice the CPUs, 4 to 16)',
    placeholder: 'n',
    decode: 'count',
  }),
  /**
   * The most connections the fleet opens to one database server at once. A target's run takes 2
   * (its work and its lock; 3 while a JavaScript/TypeScript migration runs), so at most half this
   * many targets of one server run at once. @default 20
   */
  maxConnectionsPerServer: option(z.number().int().min(2).max(10_000).default(20), {
    description:
      'The most connections to one database server at once (a target takes 2: at most half as ' +
      'many targets of a server run at once)',
    placeholder: 'n',
    decode: 'count',
  }),
  /**
   * Targets that run first, alone, one after another: a count (the first targets that have work)
   * or names (a schema, a database, or a label `database/schema`). A canary that fails stops the
   * fleet before any other target is touched. 0: none. @default 1
   */
  canary: option(z.union([z.number().int().min(0), z.array(z.string().min(1)).min(1)]).default(1), {
    description:
      'Targets that run first, alone: a count, or names separated by commas (a schema, a ' +
      'database, or database/schema); a failed canary stops the fleet. 0: none',
    placeholder: 'n|names',
    decode: 'count-or-names',
    default: '1',
  }),
  /**
   * What a failed target does to the rest: `stop` dispatching (targets in flight finish), or
   * `continue` with the others. @default "stop"
   */
  onError: option(z.enum(['stop', 'continue']).default('stop'), {
    description: 'After a target fails: stop (targets in flight finish) or continue',
    placeholder: 'stop|continue',
  }),
  /**
   * With `onError: "continue"`, stop after this many failures, or when more than this share of
   * the targets the fleet runs (those not up to date) failed (`"10%"`). @default no limit
   */
  maxFailures: option(failureLimit.optional(), {
    description:
      'With --on-error continue: stop after this many failures, or when more than this share ' +
      '("10%") of the targets to run failed',
    placeholder: 'n|pct',
    decode: 'integer',
  }),
};

/** The options of a fleet: a migrator's, plus {@link fleetFields}. */
export const fleetSchema = configSchema.extend(fleetFields);

/** Options of a fleet as a caller writes them. */
export type FleetInput = z.input<typeof fleetSchema>;

/** Where a fleet's targets come from, resolved. */
export type TargetSource =
  | { readonly kind: 'schemas'; readonly url: string; readonly pattern: string }
  | { readonly kind: 'list'; readonly targets: readonly FleetTarget[] }
  | { readonly kind: 'callback'; readonly callback: TargetsCallback }
  | { readonly kind: 'query'; readonly url: string; readonly query: string };

/** A fleet's options after validation: each target's base configuration, and the fleet's own. */
export type ResolvedFleetConfig = {
  /** What every target's run takes; its `url` and `schema` are the target's. */
  readonly base: ResolvedConfig;
  readonly sources: readonly TargetSource[];
  readonly threads: number;
  readonly concurrency: number;
  readonly maxConnectionsPerServer: number;
  readonly canary: number | readonly string[];
  readonly onError: 'stop' | 'continue';
  /** Stop after this many failures, or above this share of the targets to run; null: never (with continue). */
  readonly maxFailures: { readonly count: number } | { readonly share: number } | null;
};

/**
 * Validate a fleet's options. Every problem is reported at once as one {@link ConfigError}; a
 * fleet needs at least one source of targets (`schemas`, `targets`, `targetsQuery`).
 */
export function parseFleetConfig(input: unknown, source = 'fleet options'): ResolvedFleetConfig {
  const result = fleetSchema.safeParse(input);
  if (!result.success) {
    const issues = toConfigIssues(result.error);
    throw new ConfigError(formatConfigIssues(issues, source), { issues });
  }
  const {
    schemas,
    targets,
    targetsQuery,
    controlUrl,
    threads,
    concurrency,
    maxConnectionsPerServer,
    canary,
    onError,
    maxFailures,
    ...rest
  } = result.data;
  const problem = (path: string, message: string) =>
    new ConfigError(formatConfigIssues([{ path, message }], source), {
      issues: [{ path, message }],
    });
  const url = rest.url ?? controlUrl ?? null;
  const sources: TargetSource[] = [];
  if (schemas !== undefined) {
    if (rest.url === undefined) throw problem('schemas', 'needs url: the database to look in');
    sources.push({ kind: 'schemas', url: rest.url, pattern: schemas });
  }
  if (Array.isArray(targets)) sources.push({ kind: 'list', targets });
  else if (targets !== undefined) sources.push({ kind: 'callback', callback: targets });
  if (targetsQuery !== undefined) {
    if (url === null) throw problem('targetsQuery', 'needs controlUrl (or url) to run against');
    sources.push({ kind: 'query', url, query: targetsQuery });
  }
  if (sources.length === 0)
    throw problem('(root)', 'a fleet needs targets: schemas, targets or targetsQuery');
  if (rest.migrationsSchema !== undefined)
    throw problem(
      'migrationsSchema',
      "a fleet keeps each target's ledger in the target's schema; it takes no migrationsSchema",
    );
  if (rest.lockUrl !== undefined)
    throw problem(
      'lockUrl',
      "a fleet's targets are many databases: each takes its lock on its own connection",
    );
  if (maxFailures !== undefined && onError === 'stop')
    throw problem('maxFailures', 'only applies with onError "continue" (--on-error continue)');
  // Each target's run is validated as a migrator's; the url is the first target's until a target
  // replaces it (a fleet of target lists needs none of its own).
  const firstUrl = sources[0]?.kind === 'list' ? sources[0].targets[0]?.url : undefined;
  const base = parseConfig(
    { ...withoutFleetFields(input), url: url ?? firstUrl ?? 'postgres://' },
    source,
  );
  return {
    base,
    sources,
    threads: threads ?? Math.max(1, Math.min(4, availableParallelism())),
    concurrency: concurrency ?? Math.max(4, Math.min(16, 2 * availableParallelism())),
    maxConnectionsPerServer,
    canary,
    onError,
    maxFailures:
      maxFailures === undefined
        ? onError === 'stop'
          ? { count: 1 }
          : null
        : typeof maxFailures === 'number'
          ? { count: maxFailures }
          : { share: Number.parseFloat(maxFailures) / 100 },
  };
}

/** The caller's input less the fleet's own fields: a migrator's options. */
function withoutFleetFields(input: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const key of Object.keys(fleetFields)) if (key !== 'url') delete copy[key];
  return copy;
}
