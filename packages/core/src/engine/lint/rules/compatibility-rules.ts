/**
 * Renames and drops of tables and columns: quick for the database, but the application version
 * still running during the deploy (or a rollback) uses the old name, and fails.
 */
import { alterCommands, listOf, names, stringOf, tableOf, unwrap } from '../nodes.ts';
import type { Hit, Rule } from '../rule.ts';
import { alteredTable } from './constraint-rules.ts';

/** `rename-column` and `rename-table`: `ALTER TABLE ... RENAME` of an existing table or column. */
export const renames: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'RenameStmt') return [];
  const table = tableOf(node.relation);
  if (table === undefined || created.hasTable(table)) return [];
  const renameType = stringOf(node, 'renameType');
  const newname = stringOf(node, 'newname') ?? '?';
  if (renameType === 'OBJECT_TABLE')
    return [
      {
        rule: 'rename-table',
        message:
          `renaming table ${table.name} to ${newname} breaks the application still running, ` +
          'which uses the old name',
        location: table.location,
      },
    ];
  if (renameType === 'OBJECT_COLUMN' && stringOf(node, 'relationType') === 'OBJECT_TABLE')
    return [
      {
        rule: 'rename-column',
        message:
          `renaming column ${table.name}.${stringOf(node, 'subname') ?? '?'} to ${newname} ` +
          'breaks the application still running, which uses the old name',
        location: table.location,
      },
    ];
  return [];
};

/** `drop-column`: `ALTER TABLE ... DROP COLUMN` on an existing table. */
export const dropColumn: Rule = ({ kind, node }, context) => {
  const table = alteredTable(kind, node, context);
  if (table === undefined) return [];
  return alterCommands(node).flatMap((cmd): Hit[] =>
    stringOf(cmd, 'subtype') === 'AT_DropColumn'
      ? [
          {
            rule: 'drop-column',
            message:
              `dropping column ${table.name}.${stringOf(cmd, 'name') ?? '?'} breaks the ` +
              'application still running if it reads or writes the column (ORMs list every column)',
            location: table.location,
          },
        ]
      : [],
  );
};

/** `drop-table`: `DROP TABLE` of a table this migration did not create. */
export const dropTable: Rule = ({ kind, node }, { created }) => {
  if (kind !== 'DropStmt' || stringOf(node, 'removeType') !== 'OBJECT_TABLE') return [];
  return listOf(node, 'objects').flatMap((object): Hit[] => {
    const parts = names(listOf(unwrap(object, 'List'), 'items'));
    const relname = parts.at(-1);
    if (relname === undefined) return [];
    const table = { name: parts.join('.'), schema: parts.at(-2), relname, location: undefined };
    if (created.hasTable(table)) return [];
    return [
      {
        rule: 'drop-table',
        message:
          `dropping table ${table.name} breaks the application still running if it uses the ` +
          'table, and takes ACCESS EXCLUSIVE on it',
      },
    ];
  });
};
