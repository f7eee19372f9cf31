/**
 * The statements offloop refuses in a transactional migration (`plan/transaction-rules.ts`), given
 * the parse nodes libpg-query makes of real SQL. Pure: the parser runs in-process (WASM), with no
 * database and no threads.
 */
import test from '../helpers/limited-test.ts';
import { loadParser, parseNodes } from '../../packages/core/src/engine/parse/parser.ts';
import {
  isConcurrentIndexBuild,
  isTransactionControl,
  moduleTransactionControl,
  nonTransactionalStatement,
} from '../../packages/core/src/plan/transaction-rules.ts';

test.before(async () => {
  await loadParser();
});

/** The parse node of `sql`, which must be one statement. */
function nodeOf(sql: string): { kind: string; node: unknown } {
  const nodes = parseNodes(sql);
  if (nodes?.length !== 1 || nodes[0] === undefined) throw new Error(`not one statement: ${sql}`);
  return nodes[0];
}

/** What a rule says of each statement, as `{ sql: result }`, to compare with the expected table whole. */
function judged(
  rule: (kind: string, node: unknown) => string | boolean | null,
  statements: readonly string[],
): Record<string, string | boolean | null> {
  return Object.fromEntries(
    statements.map((sql) => {
      const { kind, node } = nodeOf(sql);
      return [sql, rule(kind, node)];
    }),
  );
}

test('nonTransactionalStatement names what PostgreSQL refuses in a transaction block', (t) => {
  const expected: Record<string, string> = {
    'create index concurrently i on t (x)': 'CREATE INDEX CONCURRENTLY',
    'create unique index concurrently if not exists i on t (x)': 'CREATE INDEX CONCURRENTLY',
    'drop index concurrently i': 'DROP INDEX CONCURRENTLY',
    'drop index concurrently if exists i': 'DROP INDEX CONCURRENTLY',
    'reindex index concurrently i': 'REINDEX ... CONCURRENTLY',
    'reindex (concurrently) table t': 'REINDEX ... CONCURRENTLY',
    'reindex schema concurrently s': 'REINDEX ... CONCURRENTLY',
    'reindex database d': 'REINDEX DATABASE/SYSTEM',
    'reindex system d': 'REINDEX DATABASE/SYSTEM',
    'alter table p detach partition c concurrently':
      'ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY',
    'create database d': 'CREATE DATABASE',
    'drop database d': 'DROP DATABASE',
    vacuum: 'VACUUM',
    'vacuum t': 'VACUUM',
    'vacuum analyze t': 'VACUUM',
    'alter system set work_mem = 1': 'ALTER SYSTEM',
    "create tablespace ts location '/x'": 'CREATE TABLESPACE',
    'drop tablespace ts': 'DROP TABLESPACE',
    cluster: 'CLUSTER (without a table)',
    'alter database d set tablespace ts': 'ALTER DATABASE ... SET TABLESPACE',
    'discard all': 'DISCARD ALL',
    "create subscription s connection 'x' publication p": 'CREATE SUBSCRIPTION',
    'drop subscription s': 'DROP SUBSCRIPTION',
  };
  t.deepEqual(judged(nonTransactionalStatement, Object.keys(expected)), expected);
});

test('nonTransactionalStatement names transaction control that starts or ends a transaction', (t) => {
  const expected: Record<string, string> = {
    begin: 'BEGIN',
    'begin isolation level serializable': 'BEGIN',
    'start transaction': 'START TRANSACTION',
    commit: 'COMMIT',
    end: 'COMMIT',
    'commit and chain': 'COMMIT',
    rollback: 'ROLLBACK',
    abort: 'ROLLBACK',
    "prepare transaction 'x'": 'PREPARE TRANSACTION',
    "commit prepared 'x'": 'COMMIT PREPARED',
    "rollback prepared 'x'": 'ROLLBACK PREPARED',
  };
  t.deepEqual(judged(nonTransactionalStatement, Object.keys(expected)), expected);
});

test('nonTransactionalStatement lets through the same statements without the refused form, and savepoints', (t) => {
  const allowed = [
    'create index i on t (x)',
    'drop index i',
    'drop table t',
    'reindex table t',
    'reindex (verbose) table t',
    'alter table p detach partition c',
    'analyze t',
    'cluster t using i',
    'cluster t',
    'alter database d connection limit 5',
    'alter database d set search_path = x',
    'discard temp',
    'discard plans',
    'savepoint s',
    'release savepoint s',
    'rollback to savepoint s',
    'set transaction isolation level serializable',
    'create table t (x int)',
    'select 1',
  ];
  t.deepEqual(
    judged(nonTransactionalStatement, allowed),
    Object.fromEntries(allowed.map((sql) => [sql, null])),
  );
});

test('nonTransactionalStatement: an unknown kind or a node that is not an object is null', (t) => {
  t.is(nonTransactionalStatement('CreatedbStmt', undefined), null);
  t.is(nonTransactionalStatement('CreatedbStmt', null), null);
  t.is(nonTransactionalStatement('CreatedbStmt', 'CREATE DATABASE'), null);
  t.is(nonTransactionalStatement('CreatedbStmt', {}), 'CREATE DATABASE');
  t.is(nonTransactionalStatement('Unknown', { concurrent: true }), null);
});

test('isTransactionControl is true for the transaction-control names only', (t) => {
  for (const name of [
    'BEGIN',
    'START TRANSACTION',
    'COMMIT',
    'ROLLBACK',
    'PREPARE TRANSACTION',
    'COMMIT PREPARED',
    'ROLLBACK PREPARED',
  ])
    t.true(isTransactionControl(name), name);
  for (const name of [
    'CREATE DATABASE',
    'CREATE INDEX CONCURRENTLY',
    'DISCARD ALL',
    'SAVEPOINT',
    'RELEASE SAVEPOINT',
    'ROLLBACK TO SAVEPOINT',
    'commit',
    '',
  ])
    t.false(isTransactionControl(name), name);
});

test('moduleTransactionControl refuses transaction control, raw savepoints, SET TRANSACTION and DISCARD ALL', (t) => {
  const expected: Record<string, string> = {
    begin: 'BEGIN',
    'start transaction': 'START TRANSACTION',
    commit: 'COMMIT',
    end: 'COMMIT',
    rollback: 'ROLLBACK',
    "prepare transaction 'x'": 'PREPARE TRANSACTION',
    "commit prepared 'x'": 'COMMIT PREPARED',
    "rollback prepared 'x'": 'ROLLBACK PREPARED',
    'savepoint s': 'SAVEPOINT',
    'release savepoint s': 'RELEASE SAVEPOINT',
    'release s': 'RELEASE SAVEPOINT',
    'rollback to savepoint s': 'ROLLBACK TO SAVEPOINT',
    'rollback to s': 'ROLLBACK TO SAVEPOINT',
    'set transaction isolation level serializable': 'SET TRANSACTION',
    'set session characteristics as transaction read only': 'SET SESSION CHARACTERISTICS',
    'discard all': 'DISCARD ALL',
  };
  t.deepEqual(judged(moduleTransactionControl, Object.keys(expected)), expected);
});

test('moduleTransactionControl lets through settings and statements a transaction may hold', (t) => {
  const allowed = [
    'set search_path = x',
    'set local lock_timeout = 1',
    'discard temp',
    'create index concurrently i on t (x)',
    'create database d',
    'vacuum',
    'select 1',
  ];
  t.deepEqual(
    judged(moduleTransactionControl, allowed),
    Object.fromEntries(allowed.map((sql) => [sql, null])),
  );
  t.is(moduleTransactionControl('TransactionStmt', undefined), null);
  t.is(moduleTransactionControl('TransactionStmt', {}), null);
});

test('isConcurrentIndexBuild: CREATE INDEX and REINDEX concurrently, not DROP INDEX concurrently', (t) => {
  const expected: Record<string, boolean> = {
    'create index concurrently i on t (x)': true,
    'reindex index concurrently i': true,
    'reindex (concurrently) table t': true,
    'create index i on t (x)': false,
    'reindex table t': false,
    'drop index concurrently i': false,
    'alter table p detach partition c concurrently': false,
  };
  t.deepEqual(judged(isConcurrentIndexBuild, Object.keys(expected)), expected);
  t.false(isConcurrentIndexBuild('IndexStmt', null));
});
