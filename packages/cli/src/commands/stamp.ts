/** `offloop stamp <version>`: record the database as being at a version without running anything. */
import type { ConfigIssue } from '@offloop/core';
import { OUTPUT_FLAGS, usageError } from '../args.ts';
import type { Command } from '../command.ts';
import { CONFIG_FILE_FLAGS, DATABASE_FLAGS, RUN_FLAGS, resolveConfig } from '../config.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { count } from '../format.ts';
import { withMigrator } from '../migrator.ts';
import { isTarget, readTimeout } from '../targets.ts';

/** `offloop stamp <version|prefix>` or `offloop stamp --base`: adopt an existing database, or forget. */
export const stampCommand: Command = {
  name: 'stamp',
  summary: 'Record the database as at a version without running anything (or --base)',
  usage: 'offloop stamp <version> [options]',
  description:
    'Record the database as being at <version> (or an unambiguous prefix of one) without running any migration: the ' +
    'files up to it become applied, and applied migrations after it are forgotten (their down is not run). ' +
    'stamp --base forgets every applied migration. For adopting an existing database whose schema already matches ' +
    'the files, or for recording by hand what was done by hand. Each change is written to the log table (stamp, unstamp).',
  flags: {
    ...DATABASE_FLAGS,
    base: {
      type: 'boolean',
      description: 'Record the database as being at no migration: forget every applied one',
    },
    ...RUN_FLAGS,
    ...CONFIG_FILE_FLAGS,
    ...OUTPUT_FLAGS,
  },
  examples: ['offloop stamp 20260101120000', 'offloop stamp 2026010112', 'offloop stamp --base'],

  async run(args, { io, output }) {
    const [target, ...extra] = args.positionals;
    const issues: ConfigIssue[] = extra.map((value) => ({
      path: value,
      message: 'unexpected argument: offloop stamp takes one version',
    }));
    const base = args.values.base === true;
    if (base && target !== undefined)
      issues.unshift({ path: target, message: 'give a version or --base, not both' });
    else if (!base && target === undefined)
      issues.unshift({
        path: '<version>',
        message: 'missing: offloop stamp <version>, or offloop stamp --base',
      });
    else if (
      target !== undefined &&
      (!isTarget(target) || target === 'base' || /^[+-]/.test(target))
    ) {
      issues.unshift({
        path: '<version>',
        message: `must be a version or a version prefix (or --base); got "${target}"`,
      });
    }
    if (issues.length > 0) throw usageError('stamp', issues, args);
    const timeout = readTimeout(args.values, issues);
    const config = await resolveConfig(args, io, { database: true, issues });
    output.addSecrets(config.secrets);
    output.setMigrationsDir(config.dir);
    return withMigrator(config, io, output, async (migrator) => {
      const result = await migrator.stamp({
        to: base ? 'base' : (target ?? 'base'),
        timeout,
        signal: io.signal,
      });
      output.result(result, () => {
        const lines: string[] = [];
        if (result.stamped.length > 0)
          lines.push(
            `Stamped ${count(result.stamped.length, 'migration')} as applied, without running: ${result.stamped.join(', ')}`,
          );
        if (result.unstamped.length > 0)
          lines.push(
            `Forgot ${count(result.unstamped.length, 'migration')}, without running their down: ${result.unstamped.join(', ')}`,
          );
        if (lines.length === 0) lines.push('Nothing to change.');
        lines.push(
          result.current === null
            ? 'The database is now at base (nothing applied).'
            : `The database is now at ${result.current}.`,
        );
        return lines;
      });
      return EXIT_OK;
    });
  },
};
