/**
 * offloop's own queries as values: text around bound parameters, built with the {@link sql} tag
 * and sent by {@link Db} on a plain `pg` connection, or on slonik's connection when a
 * JavaScript/TypeScript migration's transaction holds it (`module-pool.ts`). Identifiers are
 * quoted here ({@link identifier}); values are always parameters, never interpolated.
 */
import { quoteIdentifier } from '../../sql/ddl.ts';

/** A bound parameter: what `pg` sends as text. Arrays only go over `pg`. */
export type SqlValue = string | number | boolean | null | readonly string[];

/** A query: `strings` around `values`, as a template literal gives them (one more string than values). */
export type Sql = {
  readonly strings: readonly string[];
  readonly values: readonly SqlValue[];
};

const SQL = Symbol('offloop.sql');
type Tagged = Sql & { readonly [SQL]: true };

function make(strings: readonly string[], values: readonly SqlValue[]): Sql {
  const query: Tagged = { strings, values, [SQL]: true };
  return query;
}

function isSql(part: unknown): part is Sql {
  return typeof part === 'object' && part !== null && SQL in part;
}

/**
 * A query from a template literal: each `${value}` becomes a parameter, and each nested query
 * (from `sql`, {@link identifier} or {@link raw}) is spliced in with its own parameters.
 */
export function sql(strings: TemplateStringsArray, ...parts: readonly (SqlValue | Sql)[]): Sql {
  const texts: string[] = [strings[0] ?? ''];
  const values: SqlValue[] = [];
  parts.forEach((part, index) => {
    const after = strings[index + 1] ?? '';
    if (isSql(part)) {
      // The nested query's first text joins the current one; its last, the text after it.
      const [first = '', ...rest] = part.strings;
      texts[texts.length - 1] += first;
      texts.push(...rest);
      values.push(...part.values);
      texts[texts.length - 1] += after;
    } else {
      values.push(part);
      texts.push(after);
    }
  });
  return make(texts, values);
}

/** A quoted, dot-separated identifier (`"schema"."table"`). */
export function identifier(...names: readonly string[]): Sql {
  return raw(names.map(quoteIdentifier).join('.'));
}

/** Trusted SQL text with no parameters: a migration's statement, or DDL offloop wrote. */
export function raw(text: string): Sql {
  return make([text], []);
}

/** `pg`'s form of a query: `$1`, `$2`, ... in the text. */
export function toPg(query: Sql): { readonly text: string; readonly values: SqlValue[] } {
  let text = query.strings[0] ?? '';
  query.strings.slice(1).forEach((part, index) => {
    text += `$${index + 1}${part}`;
  });
  return { text, values: [...query.values] };
}
