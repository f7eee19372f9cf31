/**
 * Reading libpg-query parse nodes: the few shapes the lint rules look at. A node is the JSON
 * PostgreSQL's parser gives (`{ "AlterTableStmt": { ... } }` unwrapped to its body); anything
 * unexpected reads as absent, so a rule never throws on a statement it does not know.
 */

/** A parse node's body. */
export type Node = Readonly<Record<string, unknown>>;

/** `value` as a node body, or undefined. */
export function asNode(value: unknown): Node | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Node)
    : undefined;
}

/** The body of a wrapped node of type `kind` (`{ Constraint: {...} }`), or undefined. */
export function unwrap(value: unknown, kind: string): Node | undefined {
  return asNode(asNode(value)?.[kind]);
}

/** `node[key]` as an array (an absent list is empty). */
export function listOf(node: Node | undefined, key: string): readonly unknown[] {
  const value = node?.[key];
  return Array.isArray(value) ? value : [];
}

/** `node[key]` as a string, or undefined. */
export function stringOf(node: Node | undefined, key: string): string | undefined {
  const value = node?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** `node[key]` as a number, or undefined. */
export function numberOf(node: Node | undefined, key: string): number | undefined {
  const value = node?.[key];
  return typeof value === 'number' ? value : undefined;
}

/** The strings of a list of `String` nodes (a qualified name: `["pg_catalog", "int8"]`). */
export function names(list: readonly unknown[]): string[] {
  return list.flatMap((item) => {
    const value = stringOf(unwrap(item, 'String'), 'sval');
    return value === undefined ? [] : [value];
  });
}

/** A table as a statement names it. */
export type TableRef = {
  /** `schema.table` or `table`, as written (the parser has folded unquoted names to lower case). */
  readonly name: string;
  readonly schema: string | undefined;
  readonly relname: string;
  /** Its byte offset in the parsed text, when the parser gave one. */
  readonly location: number | undefined;
};

/** The table a `RangeVar` names, or undefined. */
export function tableOf(rangeVar: unknown): TableRef | undefined {
  const node = asNode(rangeVar);
  const relname = stringOf(node, 'relname');
  if (relname === undefined) return undefined;
  const schema = stringOf(node, 'schemaname');
  return {
    name: schema === undefined ? relname : `${schema}.${relname}`,
    schema,
    relname,
    location: numberOf(node, 'location'),
  };
}

/** The `AlterTableCmd` bodies of an `AlterTableStmt`. */
export function alterCommands(statement: Node): Node[] {
  return listOf(statement, 'cmds').flatMap((cmd) => {
    const body = unwrap(cmd, 'AlterTableCmd');
    return body === undefined ? [] : [body];
  });
}

/** Whether an `ALTER TABLE` is about a table (not an index, a view, a sequence, ...). */
export function altersTable(statement: Node): boolean {
  const objtype = stringOf(statement, 'objtype');
  return objtype === undefined || objtype === 'OBJECT_TABLE';
}

/** Whether a statement's `options`/`params` list has a `DefElem` named `name` (`full`, `concurrently`). */
export function hasOption(statement: Node, key: 'options' | 'params', name: string): boolean {
  return listOf(statement, key).some(
    (item) => stringOf(unwrap(item, 'DefElem'), 'defname') === name,
  );
}

/** Every node of type `kind` under `value`, depth first. */
export function findAll(value: unknown, kind: string): Node[] {
  const found: Node[] = [];
  const walk = (current: unknown): void => {
    if (Array.isArray(current)) {
      for (const item of current) walk(item);
      return;
    }
    const node = asNode(current);
    if (node === undefined) return;
    for (const [key, child] of Object.entries(node)) {
      if (key === kind) {
        const body = asNode(child);
        if (body !== undefined) found.push(body);
      }
      walk(child);
    }
  };
  walk(value);
  return found;
}
