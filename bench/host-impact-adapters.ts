/**
 * The same workload for the other tools: node-pg-migrate (its SQL-file format and ESM
 * migrations) and psql (the `-- migrate:up` section of each file, alone).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

const UP = /^--\s*migrate:up\b.*$/m;
const DOWN = /^--\s*migrate:down\b.*$/m;

/** The `-- migrate:up` section of a dbmate-format file. */
export function upSection(source: string): string {
  const start = source.search(UP);
  const body = start < 0 ? source : source.slice(start).replace(UP, '');
  const end = body.search(DOWN);
  return end < 0 ? body : body.slice(0, end);
}

/**
 * Write the workload in node-pg-migrate's formats into `target`: SQL files with its
 * `-- Up Migration` marker (it would otherwise run the whole file, down section included), and
 * each TypeScript data migration as an ESM module doing the same work through `pgm.sql`.
 */
export async function toNodePgMigrate(source: string, target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (const file of (await readdir(source)).sort()) {
    const text = await readFile(path.join(source, file), 'utf8');
    if (file.endsWith('.sql')) {
      await writeFile(path.join(target, file), `-- Up Migration\n${upSection(text)}`);
    } else if (file.endsWith('.ts')) {
      const table = /insert into (\w+)/.exec(text)?.[1];
      const cpuMs = /performance\.now\(\) \+ (\d+)/.exec(text)?.[1];
      if (table === undefined || cpuMs === undefined)
        throw new Error(`${file}: not a workload data migration`);
      await writeFile(
        path.join(target, file.replace(/\.ts$/, '.mjs')),
        `import { createHash } from 'node:crypto';

export async function up(pgm) {
  const until = performance.now() + ${cpuMs};
  let digest = 'seed';
  let rounds = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 200; i += 1) digest = createHash('sha256').update(digest).digest('hex');
    rounds += 200;
  }
  pgm.sql(\`insert into ${table} (label, payload) values ('js \${digest.slice(0, 12)}', '\${JSON.stringify({ rounds })}'::jsonb)\`);
}
`,
      );
    }
  }
}

/** Write the up section of each SQL file into `target` (for psql); returns the files in order. */
export async function toPsql(source: string, target: string): Promise<string[]> {
  await mkdir(target, { recursive: true });
  const files: string[] = [];
  for (const file of (await readdir(source)).sort()) {
    if (!file.endsWith('.sql')) continue;
    const out = path.join(target, file);
    await writeFile(out, upSection(await readFile(path.join(source, file), 'utf8')));
    files.push(out);
  }
  return files;
}
