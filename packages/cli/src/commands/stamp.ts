/** `offloop stamp <version>`: record the database as being at a version without running anything. */
import { count, stampOptionsSchema, type ConfigIssue } from '@offloop/core';
import { defineDatabaseCommand } from '../database-command.ts';
import { DATABASE_FLAGS } from '../flags/database-options.ts';
import { optionFlags, readOptions } from '../flags/option-flags.ts';

/** The flags of `stamp()`'s options but `to`: the version is the command's argument. */
const STAMP_FLAGS = optionFlags(stampOptionsSchema, ['to']);

/** `offloop stamp <version|prefix>` or `offloop stamp --base`: adopt an existing database, or forget. */
export const stampCommand = defineDatabaseCommand({
  name: 'stamp',
  summary: 'Record the database as at a version without running anything (or --base)',
  usage: 'offloop stamp <version> [options]',
  description:
    'Record the database as being at <version> (or an unambiguous prefix of one) without running ' +
    'any migration: the files up to it become applied, and applied migrations after it are ' +
    'forgotten (their down is not run). stamp --base forgets every applied migration. For ' +
    'adopting an existing database whose schema already matches the files, or for recording by ' +
    'hand what was done by hand. Each change is written to the log table (stamp, unstamp).',
  flags: {
    ...DATABASE_FLAGS,
    base: {
      type: 'boolean',
      description: 'Record the database as being at no migration: forget every applied one',
    },
    ...STAMP_FLAGS,
  },
  examples: ['offloop stamp 20260101120000', 'offloop stamp 2026010112', 'offloop stamp --base'],

  positionals([target, ...extra], values) {
    const issues: ConfigIssue[] = extra.map((value) => ({
      path: value,
      message: 'unexpected argument: offloop stamp takes one version',
    }));
    const base = values.base === true;
    if (base && target !== undefined)
      issues.unshift({ path: target, message: 'give a version or --base, not both' });
    else if (!base && target === undefined)
      issues.unshift({
        path: '<version>',
        message: 'missing: offloop stamp <version>, or offloop stamp --base',
      });
    // The schema's target, less the forms stamp does not take: base (that is --base), +N and -N.
    else if (
      target !== undefined &&
      (!stampOptionsSchema.shape.to.safeParse(target).success ||
        target === 'base' ||
        /^[+-]/.test(target))
    ) {
      issues.unshift({
        path: '<version>',
        message: `must be a version or a version prefix (or --base); got "${target}"`,
      });
    }
    return issues;
  },
  read: (values, issues, [target]) =>
    readOptions(stampOptionsSchema, STAMP_FLAGS, values, issues, {
      to: values.base === true ? 'base' : (target ?? 'base'),
    }),
  call: (migrator, options, { signal }) => migrator.stamp({ ...options, signal }),
  render(result) {
    const lines: string[] = [];
    if (result.stamped.length > 0)
      lines.push(
        `Stamped ${count(result.stamped.length, 'migration')} as applied, ` +
          `without running: ${result.stamped.join(', ')}`,
      );
    if (result.unstamped.length > 0)
      lines.push(
        `Forgot ${count(result.unstamped.length, 'migration')}, without ` +
          `running their down: ${result.unstamped.join(', ')}`,
      );
    if (lines.length === 0) lines.push('Nothing to change.');
    lines.push(
      result.current === null
        ? 'The database is now at base (nothing applied).'
        : `The database is now at ${result.current}.`,
    );
    return lines;
  },
});
