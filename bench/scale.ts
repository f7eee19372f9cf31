/**
 * Issue 14 at every size: offloop (packed and installed with npm as a user installs it) against
 * node-pg-migrate 9, dbmate 2.36 and psql, interleaved in one run.
 *
 *   ./dev node bench/scale.ts [--rounds N] [--only noop,first-up,apply-300] [--url postgres://...]
 *                             [--json] [--check] [--keep] [--installed <dir>]
 *
 * Scenarios (`--only` picks some; `--rounds` overrides each one's default):
 *
 * - **noop**: `up` with nothing to do over 50, 500 and 5,000 applied files (one tiny insert each,
 *   {@link tinyMigrations}), a database per tool and size. 7 rounds.
 * - **first-up**: the first `up` of 50 small migrations (bench/workload.ts: tables, columns,
 *   indexes, foreign keys, functions, triggers, views, one-row seeds, one 200-row backfill), a
 *   fresh database per tool and round, created before the round's timings. 7 rounds.
 * - **apply-300**: 300 such migrations (5-row seeds, three 1,000-row backfills; `--backfill-rows
 *   50000` gives host-impact.ts's heavier workload) by offloop, node-pg-migrate, dbmate and the
 *   floor: one `psql` session running `begin; \i <file> commit;` per file. 5 rounds.
 *
 * Each tool runs its CLI as a child process with its defaults (node-pg-migrate applies all pending
 * files in one transaction, dbmate one per file); wall time from spawn to exit; medians. After
 * every run the version table (and for psql, the tables) are counted, so a tool that silently did
 * nothing fails the bench instead of looking fast. `--check` asserts issue 14's Done-when items
 * this measures: offloop's no-op at 5,000 files at most 1.5x the one at 50, its first `up` of 50
 * no slower than node-pg-migrate's, and 300 migrations within 1.05x of the psql session.
 * `--keep` and `--installed` as in bench/cold-start.ts.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { toNodePgMigrate, toPsql } from './host-impact-adapters.ts';
import {
  adminUrl,
  Checks,
  Databases,
  machine,
  formatOf,
  installedAt,
  installPeers,
  interleave,
  itemsApplied,
  medians,
  ms,
  ok,
  query,
  removeWorkDir,
  run,
  runIn,
  table,
  tinyMigrations,
  toolCommand,
  TOOLS,
  versionRows,
  workDir,
  writeMigrations,
  type Install,
  type Tool,
} from './peers.ts';
import { generateWorkload, type WorkloadSummary } from './workload.ts';

const SCENARIOS = ['noop', 'first-up', 'apply-300'] as const;
type Scenario = (typeof SCENARIOS)[number];
const DEFAULT_ROUNDS: Record<Scenario, number> = { noop: 7, 'first-up': 7, 'apply-300': 5 };
const SIZES = [50, 500, 5_000] as const;

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string' },
    only: { type: 'string' },
    url: { type: 'string' },
    json: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    installed: { type: 'string' },
    'backfill-rows': { type: 'string', default: '1000' },
  },
});
const only = (flags.only?.split(',') ?? SCENARIOS) as Scenario[];
for (const scenario of only)
  if (!SCENARIOS.includes(scenario))
    throw new Error(`--only: unknown scenario ${scenario} (${SCENARIOS.join(', ')})`);
const roundsOf = (scenario: Scenario) =>
  flags.rounds === undefined ? DEFAULT_ROUNDS[scenario] : Number(flags.rounds);
const admin = adminUrl(flags.url);

/** What a run of the whole bench found, for the report, `--json` and `--check`. */
type Results = {
  noop?: Record<string, number>;
  firstUp?: Record<string, number>;
  apply300?: Record<string, number>;
};

async function main(): Promise<void> {
  const work = await workDir('offloop-scale');
  const databases = new Databases(admin, 'bench_scale');
  const results: Results = {};
  try {
    const before = await machine(admin);
    console.error(`# installing offloop (packed) and the peers in ${work}`);
    const install =
      flags.installed === undefined
        ? await installPeers(path.join(work, 'install'))
        : installedAt(flags.installed);
    if (only.includes('noop')) results.noop = await noop(install, work, databases);
    if (only.includes('first-up'))
      results.firstUp = await firstUp(install, work, databases, 'first-up', 50, 200);
    if (only.includes('apply-300'))
      results.apply300 = await firstUp(
        install,
        work,
        databases,
        'apply-300',
        300,
        Number(flags['backfill-rows']),
      );
    console.log(`# before: ${before}\n# after:  ${await machine(admin)}`);
    report(results);
    if (flags.json) console.log(JSON.stringify({ bench: 'scale', ...results }));
    if (flags.check) check(results);
  } finally {
    await databases.dropAll();
    if (flags.keep) console.error(`# kept ${work}`);
    else await removeWorkDir(work);
  }
}

/** No-op `up` per tool and history length: every file applied first, then interleaved rounds. */
async function noop(
  install: Install,
  work: string,
  databases: Databases,
): Promise<Record<string, number>> {
  const targets: Record<string, { tool: Tool; size: number; url: string; dir: string }> = {};
  for (const size of SIZES) {
    for (const tool of TOOLS) {
      const dir = path.join(work, 'noop', `${tool}-${String(size)}`);
      await writeMigrations(dir, formatOf(tool), tinyMigrations(size));
      const url = await databases.create(`noop_${tool}_${String(size)}`);
      console.error(`# noop: ${tool} applies ${String(size)} files`);
      await runIn(install, toolCommand(install, tool, url, dir), `${tool} up (${String(size)})`);
      if (!(await itemsApplied(url, tool, size)))
        throw new Error(`${tool} did not apply the ${String(size)} migrations`);
      targets[`${tool} ${String(size)}`] = { tool, size, url, dir };
    }
  }
  const keys = Object.keys(targets);
  const once = async (key: string): Promise<number> => {
    const target = targets[key];
    if (target === undefined) throw new Error(key);
    return (await runIn(install, toolCommand(install, target.tool, target.url, target.dir), key))
      .ms;
  };
  for (const key of keys) await once(key); // compile caches, page cache
  const rounds = roundsOf('noop');
  console.error(`# noop: ${String(rounds)} interleaved rounds`);
  const result = medians(await interleave(rounds, keys, once));
  for (const { tool, size, url } of Object.values(targets))
    if (!(await itemsApplied(url, tool, size)))
      throw new Error(`${tool}: the version table changed during no-op runs (${String(size)})`);
  return result;
}

type Contender = Tool | 'psql';
const CONTENDERS: readonly Contender[] = [...TOOLS, 'psql'];

/**
 * The first `up` of `count` workload migrations per tool (and, for apply-300, the psql session),
 * a fresh database per tool and round, all created before the timings.
 */
async function firstUp(
  install: Install,
  work: string,
  databases: Databases,
  label: 'first-up' | 'apply-300',
  count: number,
  backfillRows: number,
): Promise<Record<string, number>> {
  const rounds = roundsOf(label);
  const contenders = label === 'apply-300' ? CONTENDERS : TOOLS;
  const source = path.join(work, label, 'dbmate');
  const workload = await generateWorkload(source, { migrations: count, backfillRows });
  const nodePgMigrateDir = path.join(work, label, 'node-pg-migrate');
  await toNodePgMigrate(source, nodePgMigrateDir);
  const psqlScript = path.join(work, label, 'psql.sql');
  const files = await toPsql(source, path.join(work, label, 'psql'));
  await writeFile(psqlScript, files.map((file) => `begin;\n\\i '${file}'\ncommit;\n`).join(''));
  const dirOf = (tool: Tool) => (tool === 'node-pg-migrate' ? nodePgMigrateDir : source);

  console.error(`# ${label}: ${String((rounds + 1) * contenders.length)} fresh databases`);
  const urls: Record<string, string> = {};
  for (let round = 0; round <= rounds; round += 1)
    for (const contender of contenders)
      urls[`${contender} ${String(round)}`] = await databases.create(
        `${String(count)}_${contender}_${String(round)}`,
      );

  const once = async (contender: Contender, round: number): Promise<number> => {
    const url = urls[`${contender} ${String(round)}`] ?? '';
    const result =
      contender === 'psql'
        ? ok(
            await run('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', psqlScript], {
              cwd: install.dir,
            }),
            'psql',
          )
        : await runIn(install, toolCommand(install, contender, url, dirOf(contender)), contender);
    await verify(url, contender, workload);
    return result.ms;
  };
  // Round 0 (its own databases) warms compile caches and the server; the next `rounds` count.
  for (const contender of contenders) await once(contender, 0);
  console.error(`# ${label}: ${String(rounds)} interleaved rounds`);
  return medians(await interleave(rounds, contenders, (c, round) => once(c, round + 1)));
}

/** Throw unless `contender` applied the whole workload on `url`. */
async function verify(url: string, contender: Contender, workload: WorkloadSummary) {
  const [row] = await query<{ n: number }>(
    url,
    "select count(*)::int as n from pg_tables where schemaname = 'public' and tablename ~ '^t_[0-9]+$'",
  );
  const versions = contender === 'psql' ? workload.files.length : await versionRows(url, contender);
  if (row?.n !== workload.tables || versions !== workload.files.length)
    throw new Error(
      `${contender} did not apply the workload: ${String(row?.n)} of ${String(workload.tables)} tables, ` +
        `${String(versions)} of ${String(workload.files.length)} versions`,
    );
}

function report(results: Results): void {
  if (results.noop !== undefined) {
    const noop = results.noop;
    console.log(
      `\n## No-op \`up\` over 50 / 500 / 5,000 applied files (medians of ${String(roundsOf('noop'))} interleaved rounds)\n`,
    );
    console.log(
      table(
        ['tool', ...SIZES.map((size) => `${size.toLocaleString('en')} files`), '5,000 / 50'],
        TOOLS.map((tool) => [
          tool,
          ...SIZES.map((size) => ms(noop[`${tool} ${String(size)}`])),
          ratio(noop[`${tool} 5000`], noop[`${tool} 50`]),
        ]),
      ),
    );
  }
  for (const [title, values, rounds] of [
    ['First `up` of 50 small migrations', results.firstUp, roundsOf('first-up')],
    ['300 SQL migrations applied', results.apply300, roundsOf('apply-300')],
  ] as const) {
    if (values === undefined) continue;
    const offloop = values['offloop'];
    console.log(`\n## ${title} (medians of ${String(rounds)} interleaved rounds)\n`);
    console.log(
      table(
        ['tool', 'wall time', 'offloop / tool'],
        Object.entries(values).map(([tool, value]) => [
          tool === 'psql' ? 'psql, one session, a transaction per file' : tool,
          ms(value),
          tool === 'offloop' ? '-' : ratio(offloop, value),
        ]),
      ),
    );
  }
}

const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined ? '-' : `x${(a / b).toFixed(2)}`;

function check(results: Results): void {
  const checks = new Checks();
  if (results.noop !== undefined) {
    const [at50, at5000] = [results.noop['offloop 50'], results.noop['offloop 5000']];
    checks.check(
      "offloop's no-op up over 5,000 files at most 1.5x the one over 50",
      at50 !== undefined && at5000 !== undefined && at5000 <= 1.5 * at50,
      `${ms(at5000)} against ${ms(at50)} (${ratio(at5000, at50)})`,
    );
  }
  if (results.firstUp !== undefined) {
    const { offloop, 'node-pg-migrate': peer } = results.firstUp;
    checks.check(
      "offloop's first up of 50 migrations no slower than node-pg-migrate's",
      offloop !== undefined && peer !== undefined && offloop <= peer,
      `${ms(offloop)} against ${ms(peer)} (${ratio(offloop, peer)})`,
    );
  }
  if (results.apply300 !== undefined) {
    const { offloop, psql } = results.apply300;
    checks.check(
      '300 SQL migrations within 1.05x of the psql session',
      offloop !== undefined && psql !== undefined && offloop <= 1.05 * psql,
      `${ms(offloop)} against ${ms(psql)} (${ratio(offloop, psql)})`,
    );
  }
  checks.finish();
}

await main();
