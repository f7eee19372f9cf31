/**
 * A synthetic but realistic migration history for benchmarks: dbmate-format SQL files that
 * create tables, add columns, indexes, foreign keys, functions and triggers, seed rows and
 * backfill tens of thousands of rows, plus (optionally) TypeScript data migrations that burn CPU
 * in the worker thread, the kind of work that would block a server's event loop.
 *
 * The output is deterministic for the same options, so checksums (and the test harness's
 * template key) are stable across runs.
 *
 * @example
 * ```ts
 * import { generateWorkload } from './workload.ts';
 *
 * const summary = await generateWorkload('/tmp/workload', { migrations: 300, jsMigrations: 5, cpuMsPerJsMigration: 200, backfillRows: 50_000 });
 * ```
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Options of {@link generateWorkload}. */
export type WorkloadOptions = {
  /** Total number of migrations, SQL and TypeScript together. @default 300 */
  readonly migrations?: number;
  /** How many of them are TypeScript data migrations that burn CPU. @default 0 */
  readonly jsMigrations?: number;
  /** CPU time each TypeScript migration burns (a hashing loop), in ms. @default 200 */
  readonly cpuMsPerJsMigration?: number;
  /** Rows of each backfill migration (one migration in a hundred is a backfill). @default 50000 */
  readonly backfillRows?: number;
  /** Version of the first migration; later ones follow a minute apart. @default 2024-01-01 00:00:00 UTC */
  readonly start?: Date;
};

/** What {@link generateWorkload} wrote. */
export type WorkloadSummary = {
  readonly dir: string;
  readonly files: readonly string[];
  /** Count of migrations per kind. */
  readonly kinds: Readonly<Record<MigrationKind, number>>;
  readonly tables: number;
  /** Rows inserted by seeds and backfills together. */
  readonly rows: number;
};

type MigrationKind =
  | 'table'
  | 'column'
  | 'index'
  | 'foreign-key'
  | 'function'
  | 'trigger'
  | 'seed'
  | 'backfill'
  | 'view'
  | 'js';

/**
 * Write the workload into `dir` (created if missing; existing `*.sql`/`*.ts` migrations in it are
 * removed first, so the directory holds exactly this workload).
 */
export async function generateWorkload(
  dir: string,
  options: WorkloadOptions = {},
): Promise<WorkloadSummary> {
  const total = options.migrations ?? 300;
  const jsCount = Math.min(options.jsMigrations ?? 0, total);
  const cpuMs = options.cpuMsPerJsMigration ?? 200;
  const backfillRows = options.backfillRows ?? 50_000;
  const start = options.start ?? new Date(Date.UTC(2024, 0, 1));
  if (!Number.isInteger(total) || total < 1)
    throw new RangeError('migrations must be a positive integer');

  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) {
    if (/^\d{14}_\w+\.(sql|ts)$/.test(name)) await rm(path.join(dir, name));
  }

  // Spread the JS migrations evenly, never first (they need a table to write to).
  const jsSlots = new Set<number>();
  for (let k = 0; k < jsCount; k += 1)
    jsSlots.add(Math.min(total - 1, 1 + Math.floor(((k + 0.5) * (total - 1)) / jsCount)));

  const state = new SchemaState();
  const kinds: Record<MigrationKind, number> = {
    table: 0,
    column: 0,
    index: 0,
    'foreign-key': 0,
    function: 0,
    trigger: 0,
    seed: 0,
    backfill: 0,
    view: 0,
    js: 0,
  };
  const files: string[] = [];
  let rows = 0;
  for (let i = 0; i < total; i += 1) {
    const version = versionAt(start, i);
    let kind: MigrationKind;
    let name: string;
    let content: string;
    if (jsSlots.has(i)) {
      kind = 'js';
      name = `${version}_data_migration_${String(i)}.ts`;
      content = jsMigration(state.anyTable(i), cpuMs);
      rows += 1;
    } else {
      const step = state.next(i, backfillRows);
      kind = step.kind;
      name = `${version}_${step.name}.sql`;
      content = `-- migrate:up\n${step.up.trim()}\n\n-- migrate:down\n${step.down.trim()}\n`;
      rows += step.rows;
    }
    kinds[kind] += 1;
    files.push(name);
    await writeFile(path.join(dir, name), content);
  }
  return { dir, files, kinds, tables: state.tableCount, rows };
}

function versionAt(start: Date, index: number): string {
  const at = new Date(start.getTime() + index * 60_000);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(at.getUTCFullYear(), 4)}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
}

type Step = {
  kind: Exclude<MigrationKind, 'js'>;
  name: string;
  up: string;
  down: string;
  rows: number;
};

/** The tables created so far, and what each has, so that later steps refer to real objects. */
class SchemaState {
  readonly #tables: { name: string; columns: string[]; seeded: boolean }[] = [];
  #functions = 0;

  get tableCount(): number {
    return this.#tables.length;
  }

  anyTable(i: number): string {
    return this.#tables[i % this.#tables.length]?.name ?? 't_0';
  }

  /** A fixed rotation of kinds, with a table first and every tenth step another table. */
  next(i: number, backfillRows: number): Step {
    if (this.#tables.length === 0 || i % 10 === 0) return this.#createTable();
    const table = this.#tables[(i * 7) % this.#tables.length] ?? this.#tables[0];
    if (table === undefined) return this.#createTable();
    // One backfill every 100 migrations, on the newest table (few indexes yet, as in real life).
    const newest = this.#tables.at(-1);
    if (i % 100 === 35 && newest !== undefined) return this.#backfill(newest, backfillRows, i);
    switch (i % 10) {
      case 1:
      case 6:
        return this.#addColumn(table, i);
      case 2:
        return this.#index(table, i);
      case 3:
        return this.#foreignKey(table, i);
      case 4:
        return this.#function(table);
      case 5:
        return this.#trigger(table, i);
      case 7:
        return this.#seed(table, Math.max(1, Math.round(backfillRows / 200)));
      case 8:
        return this.#view(table, i);
      default:
        return this.#addColumn(table, i);
    }
  }

  #createTable(): Step {
    const name = `t_${String(this.#tables.length)}`;
    this.#tables.push({ name, columns: [], seeded: false });
    return {
      kind: 'table',
      name: `create_${name}`,
      up: `
create table ${name} (
  id bigint generated always as identity primary key,
  label text not null default '',
  amount numeric(12, 2) not null default 0,
  payload jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table ${name} is 'generated by bench/workload.ts';`,
      down: `drop table ${name} cascade;`,
      rows: 0,
    };
  }

  #addColumn(table: { name: string; columns: string[] }, i: number): Step {
    const column = `c_${String(i)}`;
    table.columns.push(column);
    const type = ['text', 'integer', 'boolean', 'timestamptz'][i % 4] ?? 'text';
    const fallback =
      { text: "''", integer: '0', boolean: 'false', timestamptz: 'now()' }[type] ?? "''";
    return {
      kind: 'column',
      name: `add_${table.name}_${column}`,
      up: `alter table ${table.name} add column ${column} ${type} not null default ${fallback};`,
      down: `alter table ${table.name} drop column ${column};`,
      rows: 0,
    };
  }

  #index(table: { name: string; columns: string[] }, i: number): Step {
    const column = table.columns.at(-1) ?? 'created_at';
    const name = `${table.name}_${column}_${String(i)}_idx`;
    return {
      kind: 'index',
      name: `index_${table.name}_${String(i)}`,
      up: `create index ${name} on ${table.name} (${column}, id);`,
      down: `drop index ${name};`,
      rows: 0,
    };
  }

  #foreignKey(table: { name: string }, i: number): Step {
    const parent = this.#tables[0];
    if (parent === undefined || parent === table)
      return this.#addColumn(table as { name: string; columns: string[] }, i);
    const column = `${parent.name}_ref_${String(i)}`;
    return {
      kind: 'foreign-key',
      name: `fk_${table.name}_${String(i)}`,
      up: `
alter table ${table.name} add column ${column} bigint references ${parent.name} (id) on delete set null;
create index ${table.name}_${column}_idx on ${table.name} (${column});`,
      down: `alter table ${table.name} drop column ${column};`,
      rows: 0,
    };
  }

  #function(table: { name: string }): Step {
    const name = `f_${String(this.#functions)}`;
    this.#functions += 1;
    return {
      kind: 'function',
      name: `function_${name}`,
      up: `
create function ${name}(p_id bigint) returns numeric
language plpgsql stable as $$
declare
  result numeric;
begin
  select coalesce(sum(amount), 0) into result from ${table.name} where id <= p_id;
  return result;
end;
$$;`,
      down: `drop function ${name}(bigint);`,
      rows: 0,
    };
  }

  #trigger(table: { name: string }, i: number): Step {
    const fn = `${table.name}_touch_${String(i)}`;
    return {
      kind: 'trigger',
      name: `trigger_${table.name}_${String(i)}`,
      up: `
create function ${fn}() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
create trigger ${fn} before update on ${table.name}
  for each row execute function ${fn}();`,
      down: `drop trigger ${fn} on ${table.name};\ndrop function ${fn}();`,
      rows: 0,
    };
  }

  #seed(table: { name: string; seeded: boolean }, rows: number): Step {
    table.seeded = true;
    return {
      kind: 'seed',
      name: `seed_${table.name}_${String(rows)}`,
      up: `
insert into ${table.name} (label, amount, payload)
select 'seed ' || g, (g % 1000) / 10.0, jsonb_build_object('n', g)
from generate_series(1, ${String(rows)}) as g;`,
      down: `delete from ${table.name} where label like 'seed %';`,
      rows,
    };
  }

  #backfill(table: { name: string; seeded: boolean }, rows: number, i: number): Step {
    table.seeded = true;
    // Rows computed in SQL, one statement: a backfill of a new table from a derivation. (An
    // UPDATE of every row would double the table with dead tuples, which a template keeps.)
    return {
      kind: 'backfill',
      name: `backfill_${table.name}_${String(i)}`,
      up: `
insert into ${table.name} (label, amount)
select 'backfill ' || (g % 1000), (g % 977) / 7.0
from generate_series(1, ${String(rows)}) as g;
analyze ${table.name};`,
      down: `delete from ${table.name} where label like 'backfill %';`,
      rows,
    };
  }

  #view(table: { name: string }, i: number): Step {
    const name = `v_${table.name}_${String(i)}`;
    return {
      kind: 'view',
      name: `view_${name}`,
      up: `create view ${name} as select id, label, amount from ${table.name} where amount > 0;`,
      down: `drop view ${name};`,
      rows: 0,
    };
  }
}

/** A TypeScript data migration that burns `cpuMs` of CPU in the worker, then writes one row. */
function jsMigration(table: string, cpuMs: number): string {
  return `import { createHash } from 'node:crypto';

/** Generated by bench/workload.ts: CPU-heavy work (hashing), as a data migration might do. */
export async function up({ connection, sql, progress }) {
  const until = performance.now() + ${String(cpuMs)};
  let digest = 'seed';
  let rounds = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 200; i += 1) digest = createHash('sha256').update(digest).digest('hex');
    rounds += 200;
  }
  await connection.query(sql.unsafe\`insert into ${table} (label, payload) values (\${'js ' + digest.slice(0, 12)}, \${JSON.stringify({ rounds })}::jsonb)\`);
  progress(\`hashed \${rounds} times\`);
}
`;
}

// `node bench/workload.ts <dir> [migrations] [jsMigrations]` writes a workload for a look at it.
if (import.meta.main) {
  const [dir, migrations, js] = process.argv.slice(2);
  if (dir === undefined) {
    console.error('usage: node bench/workload.ts <dir> [migrations=300] [jsMigrations=0]');
    process.exitCode = 2;
  } else {
    const summary = await generateWorkload(dir, {
      migrations: Number(migrations ?? 300),
      jsMigrations: Number(js ?? 0),
    });
    console.log(
      `${String(summary.files.length)} migrations in ${summary.dir}: ${JSON.stringify(summary.kinds)}, ${String(summary.tables)} tables, ${String(summary.rows)} rows`,
    );
  }
}
