/** How `plan` and `sql` describe prepared migrations: steps, and the range a script covers. */
import type { Prepared } from '../model/prepared.ts';
import type { PlanStep } from '../model/results.ts';
import { currentOf, type PlanState } from './state.ts';

/** A prepared migration as a step of `plan`'s and `sql`'s result. */
export function toStep(item: Prepared): PlanStep {
  const { migration, direction, options } = item;
  return {
    direction,
    version: migration.version,
    name: migration.name,
    file: migration.file,
    kind: migration.kind,
    statements: 'statements' in item ? item.statements.length : null,
    transactional: options.transaction,
    lockTimeout: options.lockTimeout,
    statementTimeout: options.statementTimeout,
  };
}

/** The versions a script of `items` goes from and to, in `direction`. */
export function scriptRange(
  state: PlanState,
  items: readonly Prepared[],
  direction: 'up' | 'down',
): { from: string | null; to: string | null } {
  const from = currentOf(state.applied);
  const to =
    direction === 'up'
      ? (items.at(-1)?.migration.version ?? from)
      : currentOf(
          state.applied.filter(
            (row) => !items.some((item) => item.migration.version === row.version),
          ),
        );
  return { from, to };
}
