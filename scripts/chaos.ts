/**
 * Chaos rounds for issue 9, as a new user would try it: a 30-migration run (transactional SQL, a
 * TypeScript data migration that inserts in batches, a `transaction:false` concurrent index
 * build) is hit at a random point, by `kill -9` of the `offloop up` process or by terminating one
 * of its backends from SQL (the lock connection, or a migration connection). Then `offloop up`
 * runs again, as a deploy would retry, and once more if it says a non-transactional migration
 * was left partial, after doing what it says (drop the index, `offloop repair`).
 *
 * After each round: the last `up` exited 0; nothing was applied twice (exact row counts, one
 * marker row per data migration, one success per version in the log, no 23505); no failure in
 * the log other than the migration the blow interrupted; no advisory lock or backend left; and
 * the schema equals a clean run's.
 *
 *   ./dev node scripts/chaos.ts [--rounds 50] [--url postgres://...] [--seed N] [--keep] [--strict]
 *
 * `--url` names the server (each round creates and drops its own database on it; default
 * TEST_DATABASE_URL, then DATABASE_URL, then a throwaway embedded PostgreSQL, which no other
 * session's tests can disturb). `--seed` replays a run's random choices. `--keep` keeps
 * the databases of rounds that broke a promise. Exits 1 when a round broke one; with `--strict`,
 * also when the interrupted run itself reported something other than the issue says (warnings).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { eventually } from '../test/helpers/eventually.ts';
import {
  advisoryLockCount,
  advisoryLockHolders,
  appliedVersions,
  createDatabase,
  dropDatabase,
  dropIndexConcurrently,
  invalidIndexes,
  logRows,
  offloopBackends,
  openProbePool,
  rowCount,
  schemaSnapshot,
  terminate,
  type Backend,
  type LogRow,
} from '../test/helpers/probes.ts';
import { startOffloop, type BoundedResult } from '../test/helpers/running.ts';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../packages/embedded-postgres/src/index.ts';

/** A slonik pool (slonik resolves from test/, not from here). */
type DatabasePool = Awaited<ReturnType<typeof openProbePool>>;

// ---------------------------------------------------------------------------------------------
// The workload.

const EVENT_ROWS = 100_000;
const ACCOUNT_ROWS = 2_000;
const LEDGER_BATCHES = 20;
const LEDGER_BATCH_ROWS = 1_000;
const INDEX_VERSION = version(20);

/** `202601010000<ss>`: thirty versions one second apart. */
function version(index: number): string {
  return `202601010000${String(index).padStart(2, '0')}`;
}

/** A data migration's marker row: a second apply shows as a second row. */
const marker = (index: number): string =>
  `insert into markers (version) values ('${version(index)}');\n`;

/** The 30 files, and the versions whose marker must appear exactly once. */
function workload(): { files: Record<string, string>; markerVersions: string[] } {
  const sqlFiles: [number, string, string][] = [
    [
      1,
      'markers',
      'create table markers (version text not null, at timestamptz not null default now());\n',
    ],
    [
      2,
      'accounts',
      'create table accounts (id bigserial primary key, email text not null unique, created_at timestamptz not null default now());\n',
    ],
    // A slow data migration: the sleep stands for a second more of work, a window in which a
    // runner's backend outlives its killed process (or its lost lock) unless offloop ends it. A
    // second runner let in meanwhile inserts the same unique emails, waits for the first, and
    // fails with 23505 when it commits.
    [
      3,
      'seed_accounts',
      `insert into accounts (email) select 'user' || g || '@example.com' from generate_series(1, ${ACCOUNT_ROWS}) g;\nselect pg_sleep(1);\n${marker(3)}`,
    ],
    [
      4,
      'events',
      'create table events (id bigserial primary key, account_id bigint not null, kind text not null, payload text not null);\n',
    ],
    [
      5,
      'seed_events',
      `insert into events (account_id, kind, payload) select g % ${ACCOUNT_ROWS} + 1, 'kind' || (g % 7), md5(g::text) from generate_series(1, ${EVENT_ROWS}) g;\n${marker(5)}`,
    ],
    [6, 'accounts_name', 'alter table accounts add column name text;\n'],
    [7, 'events_account_idx', 'create index events_account_idx on events (account_id);\n'],
    [
      8,
      'event_counts',
      'create view account_event_counts as select account_id, count(*) as events from events group by account_id;\n',
    ],
    [
      9,
      'touch_function',
      'create function touch_updated_at() returns trigger language plpgsql as $$ begin new.updated_at = now(); return new; end $$;\n',
    ],
    [
      10,
      'accounts_touch',
      'alter table accounts add column updated_at timestamptz;\ncreate trigger accounts_touch before update on accounts for each row execute function touch_updated_at();\n',
    ],
    [
      11,
      'ledger',
      'create table ledger (id bigserial primary key, account_id bigint not null, amount int not null, batch int not null);\n',
    ],
    // 12: the TypeScript data migration, below.
    [
      13,
      'ledger_fk',
      'alter table ledger add constraint ledger_account_fk foreign key (account_id) references accounts (id);\n',
    ],
    [14, 'tags', 'create table tags (id int primary key, label text not null unique);\n'],
    [
      15,
      'seed_tags',
      `insert into tags (id, label) select g, 'tag' || g from generate_series(1, 50) g;\n${marker(15)}`,
    ],
    [
      16,
      'event_tags',
      'create table event_tags (event_id bigint not null references events (id), tag_id int not null references tags (id), primary key (event_id, tag_id));\n',
    ],
    [
      17,
      'events_payload_check',
      "alter table events add constraint events_payload_not_empty check (payload <> '');\n",
    ],
    [18, 'account_names', `update accounts set name = split_part(email, '@', 1);\n${marker(18)}`],
    [19, 'status_type', "create type account_status as enum ('active', 'suspended', 'closed');\n"],
    // 20: the concurrent index build, below.
    [
      21,
      'accounts_status',
      "alter table accounts add column status account_status not null default 'active';\n",
    ],
    [22, 'invoice_seq', 'create sequence invoice_numbers start 1000;\n'],
    [
      23,
      'invoices',
      "create table invoices (number bigint primary key default nextval('invoice_numbers'), account_id bigint not null references accounts (id), total numeric(12, 2) not null);\n",
    ],
    // Ids, not numbers: a rolled-back insert still used up its sequence values.
    [
      24,
      'seed_invoices',
      `insert into invoices (account_id, total) select id, 1.5 from accounts order by id limit 500;\n${marker(24)}`,
    ],
    [
      25,
      'ledger_totals',
      'create materialized view ledger_totals as select account_id, sum(amount) as total from ledger group by account_id;\n',
    ],
    [26, 'events_kind_default', "alter table events alter column kind set default 'unknown';\n"],
    [27, 'accounts_comment', "comment on table accounts is 'one row per customer account';\n"],
    [28, 'invoices_account_idx', 'create index invoices_account_idx on invoices (account_id);\n'],
    [29, 'rename_total', 'alter table invoices rename column total to amount;\n'],
    [
      30,
      'done',
      `create table release_notes (id int primary key, body text not null);\ninsert into release_notes values (1, 'chaos workload');\n${marker(30)}`,
    ],
  ];
  const files: Record<string, string> = {};
  for (const [index, name, body] of sqlFiles)
    files[`${version(index)}_${name}.sql`] = `-- migrate:up\n${body}`;
  files[`${version(12)}_backfill_ledger.ts`] =
    `/** Inserts the ledger in batches, as a data migration does. */
export async function up({ connection, sql }) {
  for (let batch = 1; batch <= ${LEDGER_BATCHES}; batch += 1) {
    // By email: ids have gaps when a blow rolled back an earlier insert (sequences do not roll back).
    await connection.query(sql.unsafe\`insert into ledger (account_id, amount, batch)
      select a.id, g, \${batch} from generate_series(1, ${LEDGER_BATCH_ROWS}) g join accounts a on a.email = 'user' || (g % ${ACCOUNT_ROWS} + 1) || '@example.com'\`);
    await connection.query(sql.unsafe\`select pg_sleep(0.02)\`);
  }
  await connection.query(sql.unsafe\`insert into markers (version) values ('${version(12)}')\`);
}
`;
  files[`${INDEX_VERSION}_events_payload_idx.sql`] =
    '-- migrate:up transaction:false\ncreate index concurrently events_payload_idx on events (payload);\n';
  return { files, markerVersions: [3, 5, 12, 15, 18, 24, 30].map(version) };
}

const EXPECTED_ROWS: Record<string, number> = {
  accounts: ACCOUNT_ROWS,
  events: EVENT_ROWS,
  ledger: LEDGER_BATCHES * LEDGER_BATCH_ROWS,
  tags: 50,
  invoices: 500,
  release_notes: 1,
};

// ---------------------------------------------------------------------------------------------
// One round.

type Blow = 'kill -9' | 'terminate lock connection' | 'terminate migration connection';
const BLOWS: readonly Blow[] = [
  'kill -9',
  'terminate lock connection',
  'terminate migration connection',
];

type RoundReport = {
  readonly line: string;
  readonly violations: readonly string[];
  readonly warnings: readonly string[];
  readonly dirty: boolean;
  readonly missed: boolean;
};

type Context = {
  readonly adminUrl: string;
  readonly admin: DatabasePool;
  readonly dir: string;
  readonly versions: readonly string[];
  /** The file names, oldest first. */
  readonly files: readonly string[];
  readonly markerVersions: readonly string[];
  readonly reference: readonly string[];
  /** How long a clean run migrates, from its first progress line to its exit. */
  readonly migratingMs: number;
  readonly random: () => number;
  readonly keep: boolean;
};

/** A progress line: `[3/30] <file> ...` when a migration starts, `... applied in 12 ms` when done. */
type Progress = { readonly started: readonly string[]; readonly applied: readonly string[] };

function progressOf(stderr: string): Progress {
  const started: string[] = [];
  const applied: string[] = [];
  for (const match of stderr.matchAll(/^\[\d+\/\d+\] (\d{14})_\S+ (\.\.\.|applied)/gm)) {
    (match[2] === 'applied' ? applied : started).push(match[1] ?? '');
  }
  return { started, applied };
}

/** The error code a human-mode run printed (`error[CODE]: ...`), if any. */
const errorCodeOf = (stderr: string): string | null =>
  /^error\[([A-Z_]+)\]/m.exec(stderr)?.[1] ?? null;

function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Pick the backend a blow terminates; null when the run has none of that kind (any more). The
 * lock connection is the one holding an advisory lock exclusively (the run lock); the others
 * run the work (and may hold a shared advisory lock), the busiest first.
 */
function target(
  blow: Blow,
  backends: readonly Backend[],
  exclusive: ReadonlySet<number>,
): Backend | null {
  const busy = (backend: Backend): boolean =>
    backend.state === 'active' || backend.state === 'idle in transaction';
  if (blow === 'terminate lock connection')
    return backends.find((backend) => exclusive.has(backend.pid)) ?? null;
  const work = backends.filter((backend) => !exclusive.has(backend.pid));
  return work.find(busy) ?? work[0] ?? null;
}

/** `offloop <args>`, bounded: a run that hangs is killed after `withinMs` and reported. */
async function offloop(args: readonly string[], withinMs = 180_000): Promise<BoundedResult> {
  return startOffloop(args).exitWithin(withinMs);
}

/** After a successful last run: every migration applied once, the data exact, the schema a clean run's. */
async function completeAndOnce(
  context: Context,
  pool: DatabasePool,
  log: readonly LogRow[],
): Promise<string[]> {
  const violations: string[] = [];
  const versions = await appliedVersions(pool);
  if (JSON.stringify(versions) !== JSON.stringify(context.versions)) {
    violations.push(
      `version table: missing ${context.versions.filter((v) => !versions.includes(v)).join(', ') || 'none'}, extra ${versions.filter((v) => !context.versions.includes(v)).join(', ') || 'none'}`,
    );
  }
  for (const [table, expected] of Object.entries(EXPECTED_ROWS)) {
    const rows = await rowCount(pool, table).catch(() => -1);
    if (rows !== expected)
      violations.push(`${table} has ${rows} rows, expected ${expected} (a double apply?)`);
  }
  for (const markerVersion of context.markerVersions) {
    const rows = await rowCount(pool, 'markers', { column: 'version', value: markerVersion }).catch(
      () => -1,
    );
    if (rows !== 1)
      violations.push(`data migration ${markerVersion} left ${rows} marker rows, expected 1`);
  }
  for (const v of context.versions) {
    const successes = log.filter((row) => row.version === v && row.outcome === 'succeeded').length;
    if (successes !== 1) violations.push(`the log records ${successes} successful applies of ${v}`);
  }
  const schema = await schemaSnapshot(pool);
  const missing = context.reference.filter((line) => !schema.includes(line));
  const extra = schema.filter((line) => !context.reference.includes(line));
  if (missing.length + extra.length > 0)
    violations.push(
      `schema differs from a clean run's:\n${[...missing.map((l) => `- ${l}`), ...extra.map((l) => `+ ${l}`)].slice(0, 20).join('\n')}`,
    );
  return violations;
}

/**
 * Where a blow lands: half the time at a uniformly random moment of the migrating phase; half
 * the time shortly after a uniformly chosen migration starts, so that the short ones and the
 * concurrent index build are hit too. Half the rounds have a replica waiting for the lock when
 * the blow lands (a deploy), the others retry once the hit run has exited.
 */
function aimAt(context: Context): {
  readonly migration: number | null;
  readonly delayMs: number;
  readonly replica: boolean;
} {
  const replica = context.random() < 0.5;
  // Runs vary: aim within the first 80% of a clean run's migrating time, to miss its end less often.
  if (context.random() < 0.5)
    return {
      migration: null,
      delayMs: Math.round(context.random() * 0.8 * context.migratingMs),
      replica,
    };
  return {
    migration: Math.floor(context.random() * context.files.length),
    delayMs: Math.round(context.random() * 200),
    replica,
  };
}

async function round(context: Context, index: number, total: number): Promise<RoundReport> {
  const began = performance.now();
  const violations: string[] = [];
  const warnings: string[] = [];
  const name = `offloop_chaos_${randomBytes(6).toString('hex')}`;
  await createDatabase(context.admin, name);
  const url = databaseUrl(context.adminUrl, name);
  const pool = await openProbePool(url);
  const args = ['--url', url, '--dir', context.dir];
  const blow = BLOWS[Math.floor(context.random() * BLOWS.length)] ?? 'kill -9';
  const aim = aimAt(context);
  const steps: string[] = [];
  let dirty = false;
  let missed = false;
  try {
    // 1. The run that is hit; maybe a replica already waiting for the lock, as in a deploy.
    const first = startOffloop(['up', ...args]);
    if (!(await first.waitForStderr(/^\[1\/\d+\] /m, 60_000))) {
      violations.push(`the first run never started migrating: ${first.stderr}`);
    }
    // Its backends, known before any other run connects: the blows hit only these.
    const tags = new Set((await offloopBackends(pool)).map((backend) => backend.applicationName));
    const replica = aim.replica ? startOffloop(['up', ...args]) : null;
    if (aim.migration !== null) {
      const file = context.files[aim.migration] ?? '';
      await first.waitForStderr(
        new RegExp(`^\\[${aim.migration + 1}/\\d+\\] ${file} `, 'm'),
        60_000,
      );
    }
    await sleep(aim.delayMs);
    const before = progressOf(first.stderr);
    const at = `${before.applied.length}/${context.versions.length} applied`;
    if (!first.running) {
      missed = true;
      steps.push(`${blow} missed (the run ended first)`);
    } else if (blow === 'kill -9') {
      first.kill('SIGKILL');
      steps.push(`kill -9 at ${at}`);
    } else {
      const exclusive = new Set(
        (await advisoryLockHolders(pool))
          .filter((holder) => holder.exclusive)
          .map((holder) => holder.pid),
      );
      const victim = target(
        blow,
        (await offloopBackends(pool)).filter((backend) => tags.has(backend.applicationName)),
        exclusive,
      );
      if (victim === null) {
        missed = true;
        steps.push(`${blow} missed (no such backend at ${at})`);
      } else {
        await terminate(pool, [victim.pid]);
        steps.push(`${blow} (pid ${victim.pid}, ${victim.state ?? '?'}) at ${at}`);
      }
    }
    const hit = await first.exitWithin(120_000);
    const hitProgress = progressOf(hit.stderr);
    const hitCode = errorCodeOf(hit.stderr);
    if (hit.timedOut)
      violations.push(`the run that was hit hung: killed after 120 s\n${hit.stderr}`);
    steps.push(
      blow === 'kill -9' && !missed
        ? 'killed'
        : `exit ${String(hit.code)}${hitCode === null ? '' : ` ${hitCode}`}`,
    );
    if (
      !missed &&
      blow === 'terminate lock connection' &&
      hit.code !== 0 &&
      hitCode !== 'LOCK_LOST'
    ) {
      warnings.push(
        `the lock connection was terminated mid-run, and the run reported ${hitCode ?? `exit ${String(hit.code)}`}, not LOCK_LOST`,
      );
    }
    if (!missed && blow !== 'kill -9' && /Cannot connect/.test(hit.stderr)) {
      warnings.push(
        `a lost connection was reported as "Cannot connect": ${hit.stderr.split('\n').find((text) => text.includes('Cannot connect')) ?? ''}`,
      );
    }
    if (/SQLSTATE 23505|duplicate key/.test(hit.stderr))
      violations.push(`the run that was hit reported a unique violation:\n${hit.stderr}`);

    // What the blow may legitimately have failed: a migration the hit run started and did not
    // finish, or the one after its last line (its progress event may not have been printed yet).
    const interrupted = new Set(
      hitProgress.started.filter((v) => !hitProgress.applied.includes(v)),
    );
    const next = context.versions[context.versions.indexOf(hitProgress.applied.at(-1) ?? '') + 1];
    if (next !== undefined) interrupted.add(next);

    // 2. Up again, as a deploy retries; once more after doing what a partial migration asks.
    let again =
      replica === null ? await offloop(['up', ...args]) : await replica.exitWithin(180_000);
    steps.push(
      `${replica === null ? 'up' : 'waiting replica'}: exit ${String(again.code)}${errorCodeOf(again.stderr) === null ? '' : ` ${String(errorCodeOf(again.stderr))}`}`,
    );
    if (again.code !== 0 && errorCodeOf(again.stderr) === 'MIGRATION_DIRTY') {
      dirty = true;
      const says = again.stderr;
      if (!says.includes(INDEX_VERSION))
        violations.push(`MIGRATION_DIRTY names another migration than the index build:\n${says}`);
      if (!/offloop repair/.test(says))
        violations.push(`MIGRATION_DIRTY does not say what to do:\n${says}`);
      // Undo its work by hand, as it says: the index, valid or INVALID, then repair.
      const invalid = await invalidIndexes(pool);
      await dropIndexConcurrently(pool, 'events_payload_idx');
      const repair = await offloop(['repair', ...args]);
      steps.push(
        `said so; dropped events_payload_idx${invalid.length > 0 ? ' (INVALID)' : ''}, repair: exit ${String(repair.code)}`,
      );
      if (repair.code !== 0)
        violations.push(`offloop repair exited ${String(repair.code)}:\n${repair.stderr}`);
      again = await offloop(['up', ...args]);
      steps.push(`up: exit ${String(again.code)}`);
    }
    if (again.timedOut) violations.push('the up after the blow hung: killed after 180 s');
    if (again.code !== 0)
      violations.push(`the last up exited ${String(again.code)}:\n${again.stderr}`);

    // 3. What the database says. After a failed last run, what it left undone would only
    // repeat the failure: the log, locks and backends are checked either way.
    const log = (await logRows(pool)).filter((row) => row.direction === 'up');
    for (const row of log) {
      // `started` is written before every non-transactional migration's first statement; a
      // later row resolves it, and the success count below says whether one did.
      if (row.outcome === 'succeeded' || row.outcome === 'started') continue;
      if (/23505|duplicate key/.test(row.error ?? ''))
        violations.push(
          `log: a unique violation (a double apply): ${row.version} ${row.outcome} ${row.error ?? ''}`,
        );
      else if (!interrupted.has(row.version))
        violations.push(
          `log: a spurious ${row.outcome} row for ${row.version}, which the blow did not interrupt: ${row.error ?? ''}`,
        );
    }
    const settled = await eventually(
      async () =>
        (await advisoryLockCount(pool)) === 0 && (await offloopBackends(pool)).length === 0,
      10_000,
    );
    if (!settled)
      violations.push(
        `left behind: ${await advisoryLockCount(pool)} advisory locks, backends ${JSON.stringify(await offloopBackends(pool))}`,
      );
    if (again.code === 0) violations.push(...(await completeAndOnce(context, pool, log)));
  } finally {
    await pool.end();
    if (violations.length === 0 || !context.keep) await dropDatabase(context.admin, name);
  }
  const verdict =
    violations.length === 0
      ? 'ok'
      : `BROKEN (${violations.length})${context.keep ? `, database ${name} kept` : ''}`;
  const seconds = ((performance.now() - began) / 1000).toFixed(1);
  const where =
    aim.migration === null
      ? `at +${aim.delayMs} ms`
      : `in ${context.files[aim.migration]?.slice(0, 14) ?? '?'} +${aim.delayMs} ms`;
  const line = `round ${String(index).padStart(String(total).length)}/${total}  ${where}${aim.replica ? ', a replica waiting' : ''}: ${steps.join(' -> ')}  ${verdict}  (${seconds} s)`;
  return { line, violations, warnings, dirty, missed };
}

// ---------------------------------------------------------------------------------------------
// The run.

/** A small seeded generator (mulberry32), so that `--seed` replays a run's choices. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '50' },
      url: { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: ./dev node scripts/chaos.ts [--rounds 50] [--url postgres://...] [--seed N] [--keep] [--strict]',
    );
    return 0;
  }
  const rounds = Number(values.rounds);
  const seed = values.seed === undefined ? randomBytes(4).readUInt32BE(0) : Number(values.seed);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seed)) {
    console.error('chaos: --rounds and --seed take whole numbers');
    return 2;
  }
  const given = values.url ?? process.env['TEST_DATABASE_URL'] ?? process.env['DATABASE_URL'];
  let embedded: { server: EmbeddedPostgres; dir: string } | undefined;
  try {
    let adminUrl = given;
    if (adminUrl === undefined || adminUrl === '') {
      // mkdtemp makes a 0700 directory; as root the server runs as `postgres`, which must reach it.
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'offloop-chaos-pg-'));
      await chmod(dataDir, 0o755);
      embedded = {
        server: await startEmbeddedPostgres({
          dataDir: path.join(dataDir, 'pg'),
          persistent: false,
        }),
        dir: dataDir,
      };
      adminUrl = embedded.server.url;
      console.log(`chaos: no --url: a throwaway embedded PostgreSQL ${embedded.server.version}`);
    }
    return await chaos(adminUrl, rounds, seed, { keep: values.keep, strict: values.strict });
  } finally {
    await embedded?.server.stop();
    if (embedded !== undefined) await rm(embedded.dir, { recursive: true, force: true });
  }
}

async function chaos(
  adminUrl: string,
  rounds: number,
  seed: number,
  flags: { readonly keep: boolean; readonly strict: boolean },
): Promise<number> {
  const { files, markerVersions } = workload();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'offloop-chaos-'));
  const admin = await openProbePool(adminUrl);
  try {
    for (const [file, content] of Object.entries(files))
      await writeFile(path.join(dir, file), content);
    const versions = Object.keys(files)
      .map((file) => file.slice(0, 14))
      .sort();

    // The reference: a clean run, its schema and how long it migrates.
    const name = `offloop_chaos_${randomBytes(6).toString('hex')}`;
    await createDatabase(admin, name);
    let reference: readonly string[];
    let migratingMs: number;
    try {
      const clean = startOffloop(['up', '--url', databaseUrl(adminUrl, name), '--dir', dir]);
      await clean.waitForStderr(/^\[1\/\d+\] /m, 60_000);
      const began = performance.now();
      const result = await clean.exitWithin(180_000);
      migratingMs = Math.round(performance.now() - began);
      if (result.code !== 0) {
        console.error(
          `chaos: the clean run failed (exit ${String(result.code)}):\n${result.stderr}`,
        );
        return 1;
      }
      const pool = await openProbePool(databaseUrl(adminUrl, name));
      try {
        reference = await schemaSnapshot(pool);
      } finally {
        await pool.end();
      }
    } finally {
      await dropDatabase(admin, name);
    }
    console.log(
      `chaos: ${rounds} rounds, seed ${seed}; a clean run of ${versions.length} migrations migrates for ${migratingMs} ms; half the blows land 0-${Math.round(0.8 * migratingMs)} ms after its first migration starts, half just after a chosen migration starts`,
    );

    const context: Context = {
      adminUrl,
      admin,
      dir,
      versions,
      files: Object.keys(files).sort(),
      markerVersions,
      reference,
      migratingMs,
      random: seeded(seed),
      keep: flags.keep,
    };
    const reports: RoundReport[] = [];
    for (let index = 1; index <= rounds; index += 1) {
      const report = await round(context, index, rounds);
      reports.push(report);
      console.log(report.line);
      for (const violation of report.violations)
        console.log(`    violation: ${violation.replaceAll('\n', '\n      ')}`);
      for (const warning of report.warnings)
        console.log(`    warning: ${warning.replaceAll('\n', '\n      ')}`);
    }

    const broken = reports.filter((report) => report.violations.length > 0).length;
    const warned = reports.filter((report) => report.warnings.length > 0).length;
    console.log(
      `chaos: ${rounds} rounds (seed ${seed}): ${rounds - broken} kept every promise, ${broken} broke one; ` +
        `${reports.filter((report) => report.dirty).length} left a partial non-transactional migration that up explained, ` +
        `${reports.filter((report) => report.missed).length} blows missed (the run was done or had no such backend); ` +
        `${warned} rounds with warnings about what the interrupted run reported`,
    );
    return broken > 0 || (flags.strict && warned > 0) ? 1 : 0;
  } finally {
    await admin.end();
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
