/**
 * bench/fleet.ts's cold no-op, in a fresh process as a CLI or a deploy step runs it: import
 * `@offloop/worker`, `createFleet(options)` (a JSON file: the targets, the directory, the
 * settings), `up()`, `close()`. Prints `{ ms, upToDate }`: the `up()` call's time and how many
 * targets it found up to date; the parent times the process from spawn to exit. The parent copies
 * it into an npm project with the packed packages and runs it there.
 */
import { readFile } from 'node:fs/promises';
import { createFleet, type FleetOptions } from '@offloop/worker';

const [input] = process.argv.slice(2);
if (input === undefined) throw new Error('usage: fleet-noop.ts <options.json>');
const fleet = createFleet(JSON.parse(await readFile(input, 'utf8')) as FleetOptions);
try {
  const started = performance.now();
  const result = await fleet.up();
  const ms = performance.now() - started;
  console.log(JSON.stringify({ ms, upToDate: result.counts['up-to-date'] }));
} finally {
  await fleet.close();
}
