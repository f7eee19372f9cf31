/**
 * Where a fleet's targets stand: their sources gathered (a schema glob is a scan), then one scan
 * per database in the threads (one connection, two queries), several databases at once. A
 * database that cannot be read leaves its targets `unreachable`, not the fleet failed.
 */
import { fromEnvelope, type ResolvedFleetConfig } from '@offloop/core';
import type { ScannedSchema, ScanResult, SchemaSelection } from '@offloop/core/engine';
import type { ScanRequest, TargetRow, TargetsQueryRequest, TaskResponse } from '../../protocol.ts';
import type { WorkerThread } from '../worker-thread.ts';
import { dispatch } from './dispatch.ts';
import { gatherTargets, type ResolvedTarget } from './targets.ts';

/** A target found by the scan, with where it stood. */
export type Scanned = { readonly target: ResolvedTarget; readonly scan: ScannedSchema };

/** A fleet's scans, on its threads; it remembers the newest migration file the last scan found. */
export class FleetScanner {
  readonly #config: ResolvedFleetConfig;
  readonly #threads: WorkerThread;
  #latest: string | null = null;

  constructor(config: ResolvedFleetConfig, threads: WorkerThread) {
    this.#config = config;
    this.#threads = threads;
  }

  /** The newest migration file, as the last scan found it. */
  get latest(): string | null {
    return this.#latest;
  }

  /** Every target, with where it stands: one scan per database, several databases at once. */
  async scanAll(): Promise<Scanned[]> {
    // A glob's scan already says where its schemas stand: a database scanned for a glob alone is
    // not scanned again.
    const known = new Map<string, ScannedSchema>();
    const targets = await gatherTargets(this.#config, {
      schemasOf: async (url, pattern) => {
        const found = (await this.#scan(url, { pattern })).schemas;
        for (const each of found) known.set(`${url}\u0000${each.schema}`, each);
        return found.map((each) => each.schema);
      },
      rowsOf: (url, query) => this.#targetsQuery(url, query),
    });
    const states = new Map<ResolvedTarget, ScannedSchema>();
    const unknown = byDatabase(targets).map((group) =>
      group.filter((target) => {
        const found = known.get(`${target.url}\u0000${target.schema}`);
        if (found !== undefined) states.set(target, found);
        return found === undefined;
      }),
    );
    const failedScans = await this.#scanDatabases(
      unknown.filter((group) => group.length > 0),
      states,
    );
    return targets.map((target) => ({
      target,
      scan: states.get(target) ?? unreachable(target, failedScans.get(target.databaseKey)),
    }));
  }

  /**
   * Scan each group's database for its targets, into `states`. Resolves with the error of each
   * database that could not be scanned, by its key.
   */
  async #scanDatabases(
    groups: readonly (readonly ResolvedTarget[])[],
    states: Map<ResolvedTarget, ScannedSchema>,
  ): Promise<Map<string, unknown>> {
    const failedScans = new Map<string, unknown>();
    await dispatch(
      groups,
      {
        concurrency: this.#config.concurrency,
        perServer: perServerOf(this.#config),
        serverOf: (group) => group[0]?.server ?? '',
        stopped: () => false,
      },
      async (group) => {
        const first = group[0];
        if (first === undefined) return;
        const names = group.map((target) => target.schema);
        try {
          const found = (await this.#scan(first.url, { names })).schemas;
          group.forEach((target, index) => {
            const state = found[index];
            if (state !== undefined) states.set(target, state);
          });
        } catch (error) {
          // A database that cannot be read is that database's targets' problem, not the
          // fleet's: `status` reports them unreachable, `up` runs them and reports their error.
          failedScans.set(first.databaseKey, error);
        }
      },
    );
    return failedScans;
  }

  async #scan(url: string, selection: SchemaSelection): Promise<ScanResult> {
    const { base } = this.#config;
    const request: ScanRequest = {
      url,
      connectTimeout: base.connectTimeout,
      keepMs: base.workerIdleTimeout,
      dir: base.dir,
      table: base.table,
      selection,
    };
    const result = unwrap(await this.#threads.runNamed<ScanResult>('scan', request));
    this.#latest = result.latest;
    return result;
  }

  async #targetsQuery(url: string, query: string): Promise<TargetRow[]> {
    const request: TargetsQueryRequest = {
      url,
      connectTimeout: this.#config.base.connectTimeout,
      query,
    };
    return unwrap(await this.#threads.runNamed<TargetRow[]>('targetsQuery', request));
  }
}

/**
 * Targets (and scans) at once per server: a target's run takes two connections (its work and its
 * lock), so half the fleet's `maxConnectionsPerServer`.
 */
export function perServerOf(config: ResolvedFleetConfig): number {
  return Math.max(1, Math.floor(config.maxConnectionsPerServer / 2));
}

/** The targets grouped by database, in the order of their first target. */
function byDatabase(targets: readonly ResolvedTarget[]): ResolvedTarget[][] {
  const groups = new Map<string, ResolvedTarget[]>();
  for (const target of targets) {
    const list = groups.get(target.databaseKey) ?? [];
    list.push(target);
    groups.set(target.databaseKey, list);
  }
  return [...groups.values()];
}

function unwrap<T>(response: TaskResponse<T>): T {
  if (response.ok) return response.value;
  throw fromEnvelope(response.error);
}

/** Where a target stands when its database could not be scanned. */
function unreachable(target: ResolvedTarget, error: unknown): ScannedSchema {
  const message = error instanceof Error ? error.message : `could not scan ${target.database}`;
  return {
    schema: target.schema,
    state: 'unreachable',
    version: null,
    appliedCount: 0,
    pendingCount: 0,
    lastError: { version: '', message, at: new Date().toISOString() },
  };
}
