/**
 * Index builds and drops that lock a table for their whole run: `CREATE INDEX` (SHARE: no
 * writes), `DROP INDEX` and `REINDEX` without `CONCURRENTLY`, `REFRESH MATERIALIZED VIEW` (ACCESS
 * EXCLUSIVE on the view). docs/lint.md has each one's safe way.
 */
import { hasOption, listOf, names, stringOf, tableOf, unwrap, type Node } from '../nodes.ts';
import type { Hit, Rule } from '../rule.ts';

/** `create-index-not-concurrent`: a plain `CREATE INDEX` on a table this migration did not create. */
export const createIndexNotConcurrent: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'IndexStmt' || node.concurrent === true) return [];
  const table = tableOf(node.relation);
  if (table === undefined || created.hasTable(table)) return [];
  return [
    {
      rule: 'create-index-not-concurrent',
      message: `CREATE INDEX without CONCURRENTLY blocks writes to ${table.name} while it builds`,
      location: table.location,
      table,
    },
  ];
};

/** `drop-index-not-concurrent`: a plain `DROP INDEX` of an index this migration did not create. */
export const dropIndexNotConcurrent: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'DropStmt' || stringOf(node, 'removeType') !== 'OBJECT_INDEX') return [];
  if (node.concurrent === true) return [];
  return indexNames(node)
    .filter((name) => !created.hasIndex(name))
    .map((name): Hit => ({
      rule: 'drop-index-not-concurrent',
      message:
        `DROP INDEX ${name.join('.')} without CONCURRENTLY takes ACCESS EXCLUSIVE on its ` +
        'table: reads and writes wait, and queue behind any long transaction',
    }));
};

/** The qualified names a `DROP` statement lists. */
function indexNames(node: Node): string[][] {
  return listOf(node, 'objects').map((object) => names(listOf(unwrap(object, 'List'), 'items')));
}

/** `reindex-not-concurrent`: `REINDEX TABLE`/`INDEX` without `CONCURRENTLY`. */
export const reindexNotConcurrent: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'ReindexStmt' || hasOption(node, 'params', 'concurrently')) return [];
  const what = stringOf(node, 'kind');
  if (what !== 'REINDEX_OBJECT_TABLE' && what !== 'REINDEX_OBJECT_INDEX') return [];
  const relation = tableOf(node.relation);
  if (relation === undefined || created.hasTable(relation)) return [];
  // REINDEX INDEX names an index, not the table whose size matters.
  const table = what === 'REINDEX_OBJECT_TABLE' ? relation : undefined;
  return [
    {
      rule: 'reindex-not-concurrent',
      message:
        `REINDEX without CONCURRENTLY blocks writes to the table of ${relation.name}, and ` +
        'reads that use the index, while it rebuilds',
      location: relation.location,
      table,
    },
  ];
};

/** `refresh-materialized-view-not-concurrent`: `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY`. */
export const refreshNotConcurrent: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'RefreshMatViewStmt' || node.concurrent === true) return [];
  const view = tableOf(node.relation);
  if (view === undefined || created.hasTable(view)) return [];
  return [
    {
      rule: 'refresh-materialized-view-not-concurrent',
      message: `REFRESH MATERIALIZED VIEW ${view.name} takes ACCESS EXCLUSIVE: reads of it wait`,
      location: view.location,
      table: view,
    },
  ];
};
