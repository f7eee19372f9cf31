import type { MigrationContext } from '@offloop/core';

/** A data migration in TypeScript: it runs inside the worker thread, in its own transaction. */
export async function up({ connection, sql, progress }: MigrationContext): Promise<void> {
  await connection.query(sql.unsafe`alter table users add column display_name text`);
  const updated = await connection.query(sql.unsafe`
    update users set display_name = split_part(email, '@', 1) where display_name is null`);
  progress(`backfilled ${updated.rowCount} display names`);
}

export async function down({ connection, sql }: MigrationContext): Promise<void> {
  await connection.query(sql.unsafe`alter table users drop column display_name`);
}
