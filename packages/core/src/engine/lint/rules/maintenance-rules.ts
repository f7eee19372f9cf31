/**
 * Maintenance statements that hold ACCESS EXCLUSIVE for as long as they run, or that take a lock
 * by hand: `VACUUM FULL`, `CLUSTER`, `LOCK TABLE`, `TRUNCATE`.
 */
import { hasOption, listOf, tableOf, unwrap } from '../nodes.ts';
import type { Hit, Rule } from '../rule.ts';

/** `vacuum-full`: `VACUUM FULL` rewrites each table it names (or every table) under ACCESS EXCLUSIVE. */
export const vacuumFull: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'VacuumStmt' || node.is_vacuumcmd !== true || !hasOption(node, 'options', 'full'))
    return [];
  const tables = listOf(node, 'rels').map((rel) =>
    tableOf(unwrap(rel, 'VacuumRelation')?.relation),
  );
  if (tables.length === 0)
    return [
      {
        rule: 'vacuum-full',
        message: 'VACUUM FULL rewrites every table of the database, each under ACCESS EXCLUSIVE',
      },
    ];
  return tables
    .filter((table) => table !== undefined && !created.hasTable(table))
    .map((table): Hit => ({
      rule: 'vacuum-full',
      message: `VACUUM FULL rewrites ${table?.name ?? '?'} under ACCESS EXCLUSIVE: reads and writes wait`,
      location: table?.location,
      table,
    }));
};

/** `cluster`: `CLUSTER` rewrites the table in index order under ACCESS EXCLUSIVE. */
export const cluster: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'ClusterStmt') return [];
  const table = tableOf(node.relation);
  if (table !== undefined && created.hasTable(table)) return [];
  return [
    {
      rule: 'cluster',
      message: `CLUSTER rewrites ${table?.name ?? 'every clustered table'} under ACCESS EXCLUSIVE: reads and writes wait`,
      location: table?.location,
      table,
    },
  ];
};

/** `lock-table`: an explicit `LOCK TABLE` of a table this migration did not create. */
export const lockTable: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'LockStmt') return [];
  return listOf(node, 'relations')
    .map((relation) => tableOf(unwrap(relation, 'RangeVar')))
    .filter((table) => table !== undefined && !created.hasTable(table))
    .map((table): Hit => ({
      rule: 'lock-table',
      message:
        `LOCK TABLE ${table?.name ?? '?'} holds the lock until the migration commits; every ` +
        'query on it that conflicts waits that long',
      location: table?.location,
    }));
};

/** `truncate`: `TRUNCATE` of a table this migration did not create. */
export const truncate: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'TruncateStmt') return [];
  return listOf(node, 'relations')
    .map((relation) => tableOf(unwrap(relation, 'RangeVar')))
    .filter((table) => table !== undefined && !created.hasTable(table))
    .map((table): Hit => ({
      rule: 'truncate',
      message:
        `TRUNCATE ${table?.name ?? '?'} takes ACCESS EXCLUSIVE and deletes every row the ` +
        'running application may still need',
      location: table?.location,
    }));
};
