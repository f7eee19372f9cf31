/**
 * Naming versions on the command line: a full version, an unambiguous prefix, `base`, or a
 * relative step in the Alembic style (`+2`, `-1`). Pure.
 */
import { TargetAmbiguousError, TargetNotFoundError } from '../errors/index.ts';

/** The steps of a relative target: `+2` is 2, `-1` is -1; null for any other target. */
export function relativeSteps(spec: string): number | null {
  const relative = /^([+-])(\d+)$/.exec(spec);
  return relative === null ? null : Number(relative[2]) * (relative[1] === '+' ? 1 : -1);
}

/** A resolved target: a version, or the empty database. */
export type Target =
  { readonly kind: 'version'; readonly version: string } | { readonly kind: 'base' };

/**
 * Resolve `spec` against the known versions (files and applied rows).
 *
 * @param spec a version, a prefix of one, `base`, `+N` or `-N`
 * @param known every version on disk or applied, in any order
 * @param current the newest applied version, or null
 */
export function resolveTarget(
  spec: string,
  known: readonly string[],
  current: string | null,
): Target {
  const versions = [...new Set(known)].sort();
  if (spec === 'base') return { kind: 'base' };
  const steps = relativeSteps(spec);
  if (steps !== null) {
    const from = current === null ? -1 : versions.indexOf(current);
    const index = from + steps;
    if (index === -1) return { kind: 'base' };
    const version = versions[index];
    if (version === undefined || index < -1) {
      const reach =
        steps > 0
          ? `${versions.length - 1 - from} migrations ahead`
          : `${from + 1} migrations behind`;
      throw new TargetNotFoundError(
        `Target ${spec} is out of range: from ${current ?? 'base'} there are ${reach}.`,
        { target: spec },
      );
    }
    return { kind: 'version', version };
  }
  if (!/^\d+$/.test(spec)) {
    throw new TargetNotFoundError(
      `Target "${spec}" is not a version, a version prefix, base, +N or -N.`,
      { target: spec },
    );
  }
  const matches = versions.filter((version) => version.startsWith(spec));
  const [only] = matches;
  if (only === undefined)
    throw new TargetNotFoundError(`Target ${spec} matches no migration version.`, { target: spec });
  if (matches.length > 1) {
    throw new TargetAmbiguousError(
      `Target ${spec} matches ${matches.length} versions: ${matches.join(', ')}. Give more digits.`,
      { target: spec, matches },
    );
  }
  return { kind: 'version', version: only };
}
