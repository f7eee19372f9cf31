/**
 * A fleet's targets: gathered from their sources (a schema glob, a list, a callback, a query on a
 * control database), each resolved as libpq resolves a URL, deduplicated, grouped by database for
 * the one scan per database, and labelled for people.
 */
import {
  ConfigError,
  type ConfigIssue,
  IDENTIFIER_PATTERN,
  parsePostgresUrl,
  redactUrl,
  resolvePostgresUrl,
  type FleetTarget,
  type ResolvedFleetConfig,
  type TargetResult,
} from '@offloop/core';

/** A target, resolved: where it is, and what to call it. */
export type ResolvedTarget = {
  /** `schema` when every target is in one database; else `database`, or `database/schema`. */
  readonly label: string;
  /** The URL for the driver (resolved, password included). */
  readonly url: string;
  readonly schema: string;
  /** The database's name. */
  readonly database: string;
  /** `host:port` (or the socket directory): connections to one server are capped together. */
  readonly server: string;
  /** The database's identity on its server: targets with one scan together. */
  readonly databaseKey: string;
};

/** A target's names in its results and status: its label, database and schema. */
export function namesOf(
  target: ResolvedTarget,
): Pick<TargetResult, 'target' | 'database' | 'schema'> {
  return { target: target.label, database: target.database, schema: target.schema };
}

/** A target from a source, before it is resolved. */
type Given = { readonly url: string; readonly schema: string | null };

/**
 * Every target of the fleet, in the order their sources give them (schema globs, lists and
 * callbacks, queries), each once. `expand` turns a glob into its schemas (a scan, in the thread).
 */
export async function gatherTargets(
  config: ResolvedFleetConfig,
  sources: {
    readonly schemasOf: (url: string, pattern: string) => Promise<readonly string[]>;
    readonly rowsOf: (url: string, query: string) => Promise<readonly Given[]>;
  },
): Promise<ResolvedTarget[]> {
  const given: Given[] = [];
  for (const source of config.sources) {
    switch (source.kind) {
      case 'schemas':
        for (const schema of await sources.schemasOf(source.url, source.pattern))
          given.push({ url: source.url, schema });
        break;
      case 'list':
        given.push(...source.targets.map(toGiven));
        break;
      case 'callback':
        given.push(...(await fromCallback(source.callback)));
        break;
      case 'query':
        given.push(...(await sources.rowsOf(source.url, source.query)));
        break;
    }
  }
  return label(dedupe(given.map((each, index) => locateTarget(each, config.base.schema, index))));
}

function toGiven(target: FleetTarget): Given {
  return { url: target.url, schema: target.schema ?? null };
}

async function fromCallback(
  callback: () =>
    Iterable<FleetTarget> | AsyncIterable<FleetTarget> | Promise<Iterable<FleetTarget>>,
): Promise<Given[]> {
  const returned = await callback();
  const targets: Given[] = [];
  for await (const target of returned) {
    if (typeof target !== 'object' || target === null || typeof target.url !== 'string')
      throw targetsProblem('targets', 'the function returned a target without a url');
    targets.push(toGiven(target));
  }
  return targets;
}

type Unlabelled = Omit<ResolvedTarget, 'label'>;

/**
 * Where a given target is: its URL resolved as libpq would, its schema checked, its server and
 * database named. (A fleet target is a database and schema, not a version: core's `resolveTarget`
 * is the other kind.)
 */
function locateTarget(given: Given, defaultSchema: string, index: number): Unlabelled {
  const where = `targets[${index}]`;
  const resolved = resolvePostgresUrl(given.url);
  if (resolved.url === undefined)
    throw targetsProblem(
      `${where}.url`,
      `${redactUrl(given.url)}: ${resolved.problems.join('; ')}`,
    );
  const schema = given.schema ?? defaultSchema;
  if (!IDENTIFIER_PATTERN.test(schema))
    throw targetsProblem(`${where}.schema`, `"${schema}" is not a plain PostgreSQL identifier`);
  const parts = parsePostgresUrl(resolved.url);
  if (typeof parts === 'string') throw targetsProblem(`${where}.url`, parts);
  const server = `${parts.host ?? 'localhost'}:${parts.port ?? '5432'}`;
  const database = parts.database ?? parts.user ?? 'postgres';
  return { url: resolved.url, schema, database, server, databaseKey: `${server}/${database}` };
}

/** A problem with the fleet's targets, as the `ConfigError` the call rejects with. */
function targetsProblem(path: string, message: string): ConfigError {
  return new ConfigError(`Invalid fleet targets: ${path}: ${message}`, {
    issues: [{ path, message }],
  });
}

/** Each database and schema once, the first time it is named. */
function dedupe(targets: readonly Unlabelled[]): Unlabelled[] {
  const seen = new Set<string>();
  return targets.filter((target) => {
    const key = `${target.databaseKey}\u0000${target.schema}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Short labels: the schema in a one-database fleet; else the database, with its schema when it has several or a non-default one. */
function label(targets: readonly Unlabelled[]): ResolvedTarget[] {
  const databases = new Set(targets.map((target) => target.databaseKey));
  const schemasOf = new Map<string, number>();
  for (const target of targets)
    schemasOf.set(target.databaseKey, (schemasOf.get(target.databaseKey) ?? 0) + 1);
  const names = targets.map((target) => {
    if (databases.size === 1) return target.schema;
    const several = (schemasOf.get(target.databaseKey) ?? 0) > 1 || target.schema !== 'public';
    return several ? `${target.database}/${target.schema}` : target.database;
  });
  // Databases of one name on two servers: the server tells them apart.
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return targets.map((target, index) => {
    const name = names[index] ?? target.schema;
    const unique = (counts.get(name) ?? 0) === 1 ? name : `${target.server}/${name}`;
    return { ...target, label: unique };
  });
}

/** At most this many bad lines of a targets file are reported; then how many more. */
const TARGETS_FILE_PROBLEMS = 20;

/**
 * The targets of a targets file: one per line, a URL and optionally a schema after a space;
 * blank lines and lines starting with `#` are skipped. A file with bad lines throws one
 * `ConfigError` naming each of them (the first 20, then how many more), not only the first.
 */
export function parseTargetsFile(text: string, file: string): FleetTarget[] {
  const targets: FleetTarget[] = [];
  const issues: ConfigIssue[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const where = `${file}:${index + 1}`;
    const problem = lineProblem(trimmed);
    if (typeof problem === 'string') issues.push({ path: where, message: problem });
    else targets.push(problem);
  });
  if (issues.length === 0) return targets;
  const shown = issues.slice(0, TARGETS_FILE_PROBLEMS);
  if (issues.length > shown.length)
    shown.push({
      path: file,
      message: `and ${issues.length - shown.length} more bad lines (${issues.length} in all)`,
    });
  throw new ConfigError(
    `Invalid fleet targets: ${shown.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`,
    { issues: shown },
  );
}

/** A targets file's line as its target, or what is wrong with it. */
function lineProblem(line: string): FleetTarget | string {
  const [url = '', schema, ...rest] = line.split(/\s+/);
  if (rest.length > 0) return 'a line is a URL and, optionally, a schema, separated by a space';
  const resolved = resolvePostgresUrl(url);
  if (resolved.url === undefined) return `${redactUrl(url)}: ${resolved.problems.join('; ')}`;
  if (schema !== undefined && !IDENTIFIER_PATTERN.test(schema))
    return `"${schema}" is not a plain PostgreSQL identifier`;
  return schema === undefined ? { url } : { url, schema };
}
