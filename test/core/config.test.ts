import test from '../helpers/limited-test.ts';
import {
  ConfigError,
  DatabaseUnavailableError,
  parseConfig,
  redactUrl,
  resolvePostgresUrl,
} from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { sql } from 'slonik';
import { createTestDatabase, databaseName, withPool } from '../helpers/database.ts';
import { migrationsDir } from '../helpers/fixtures.ts';
import { socketDirectory } from '../helpers/unix-socket.ts';

const USERS = '-- migrate:up\ncreate table users (id int primary key);\n';

/** The URL the driver gets for `url`, with only `env` as the environment. */
function resolved(
  url: string,
  env: Record<string, string> = {},
): string | readonly string[] | undefined {
  const result = resolvePostgresUrl(url, env);
  return result.url ?? result.problems;
}

test('defaults fill in and durations accept units', (t) => {
  const config = parseConfig({
    url: 'postgres://u@localhost/db',
    lockTimeout: '30s',
    statementTimeout: '2m',
  });
  t.is(config.schema, 'public');
  t.is(config.table, 'offloop_migrations');
  t.is(config.lockTimeout, 30_000);
  t.is(config.statementTimeout, 120_000);
  t.true(isAbsolute(config.dir));
  t.true(config.dir.endsWith('migrations'));
});

test('every problem is reported at once, unknown keys included', (t) => {
  const error = t.throws(
    () =>
      createMigrator({
        url: 'mysql://nope',
        table: 'bad-name',
        lockTimeout: 'soon',
        tabel: 'x',
      } as never),
    { instanceOf: ConfigError, code: 'CONFIG_INVALID' },
  );
  const paths = error.details.issues.map((issue) => issue.path).sort();
  t.deepEqual(paths, ['(root)', 'lockTimeout', 'table', 'url']);
  t.regex(error.message, /tabel/);
});

test('a missing url is reported', (t) => {
  const error = t.throws(() => parseConfig({}), { instanceOf: ConfigError });
  t.deepEqual(
    error.details.issues.map((issue) => issue.path),
    ['url'],
  );
});

test('up() options are validated too', async (t) => {
  await using migrator = createMigrator({ url: 'postgres://u@localhost/db' });
  await t.throwsAsync(migrator.up({ to: 'yesterday' }), {
    instanceOf: ConfigError,
    code: 'CONFIG_INVALID',
  });
});

test('passwords in URLs are redacted', (t) => {
  t.is(redactUrl('postgres://alice:s3cret@db:5432/app'), 'postgres://alice:***@db:5432/app');
  t.is(redactUrl('postgres://db/app?password=s3cret'), 'postgres://:***@db/app');
  // Text that is no URL is not shown: a value in the wrong place may be a password.
  t.is(redactUrl('Xk29_fj3Kq81'), '(unparseable URL)');
  t.is(
    redactUrl('postgres://alice:s3cret@/app?host=/var/run/postgresql&sslpassword=k3y'),
    'postgres://alice:***@/app?host=/var/run/postgresql&sslpassword=***',
  );
  t.false(redactUrl('not a url').includes('not a url'));
});

test("a password given as ?password= (libpq's form) moves into the URL, where the driver reads it", (t) => {
  const config = parseConfig({
    url: 'postgres://app@db.internal:5432/app?password=s%40cret&sslmode=require',
    lockUrl: 'postgres://app@db:5432/app?password=x',
  });
  t.is(config.url, 'postgres://app:s%40cret@db.internal:5432/app?sslmode=require');
  t.is(config.lockUrl, 'postgres://app:x@db:5432/app');
  t.is(redactUrl(config.url), 'postgres://app:***@db.internal:5432/app?sslmode=require');
  // Decoded as libpq decodes it: "+" is a plus sign, not a space.
  t.is(
    parseConfig({ url: 'postgres://app@db/app?password=a+b%20c' }).url,
    'postgres://app:a%2Bb%20c@db/app',
  );
  // A password in both places: the parameter wins, as every parameter does in libpq.
  t.is(parseConfig({ url: 'postgres://app:a@db/app?password=b' }).url, 'postgres://app:b@db/app');
});

test("libpq's URL forms are accepted: a socket directory as ?host= or percent-encoded, parameters naming parts", (t) => {
  // WHATWG's URL refuses user info without a host; libpq does not. The driver gets the socket
  // directory as a percent-encoded host, which it decodes.
  t.is(
    resolved('postgres://u@/db?host=/var/run/postgresql'),
    'postgres://u@%2Fvar%2Frun%2Fpostgresql/db',
  );
  t.is(
    resolved('postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql:5433/db'),
    'postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql:5433/db',
  );
  t.is(
    redactUrl('postgresql://u:pw@%2Fvar%2Frun%2Fpostgresql:5433/db'),
    'postgresql://u:***@/db?host=/var/run/postgresql&port=5433',
  );
  t.is(resolved('postgres://u@/db?host=%2Ftmp'), 'postgres://u@%2Ftmp/db');
  // Parameters win over the parts they name, as in libpq; others are kept, percent-encoded.
  t.is(
    resolved('postgres://u@h/db?user=alice&port=6000&dbname=other&options=-c%20search_path%3Dx'),
    'postgres://alice@h:6000/other?options=-c%20search_path%3Dx',
  );
  t.is(resolved('postgres://[::1]/db?user=u'), 'postgres://u@%3A%3A1/db');
  t.is(resolved('postgres://u@h/db?hostaddr=10.0.0.7'), 'postgres://u@10.0.0.7/db');
  // The library takes the same forms.
  t.is(
    parseConfig({
      url: 'postgres://u@/db?host=/var/run/postgresql',
      lockUrl: 'postgresql://u@%2Ftmp/db',
    }).lockUrl,
    'postgresql://u@%2Ftmp/db',
  );
});

test('URLs that libpq would refuse, or that offloop cannot honour, are CONFIG_INVALID with the reason', (t) => {
  const cases = {
    'mysql://u@h/db': /must be a postgres:\/\/ or postgresql:\/\/ URL/,
    'postgres://u@h1,h2/db': /several hosts \(h1,h2\)/,
    'postgres://u@h/db?host=h1,h2': /several hosts \(h1,h2\)/,
    'postgres://u@h:port/db': /port must be a port number \(1-65535\), got "port"/,
    'postgres://u@h/db?sslmode=sure':
      /sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, no-verify, got "sure"/,
    'postgres://u@h/db?service=prod': /pg_service\.conf/,
    'postgres://u@h/%zz': /malformed %-escape/,
    'postgres://u@h/db?sslmode': /parameter "sslmode" has no value/,
  };
  for (const [url, message] of Object.entries(cases)) {
    const error = t.throws(() => parseConfig({ url }), { instanceOf: ConfigError }, url);
    t.deepEqual(
      error.details.issues.map((issue) => issue.path),
      ['url'],
      url,
    );
    t.regex(error.message, message, url);
  }
});

test("sslmode takes libpq's values, as what the driver does with them", (t) => {
  const modes = {
    disable: 'disable',
    allow: 'disable',
    prefer: 'disable',
    require: 'require',
    'verify-ca': 'require',
    'verify-full': 'require',
    'no-verify': 'no-verify',
  };
  for (const [mode, driver] of Object.entries(modes))
    t.is(
      resolved(`postgres://u@h/db?sslmode=${mode}`),
      `postgres://u@h/db?sslmode=${driver}`,
      mode,
    );
});

test("libpq's environment fills what a URL leaves out, and names the whole database when there is no URL", (t) => {
  const env = {
    PGHOST: 'db.internal',
    PGPORT: '6432',
    PGUSER: 'app',
    PGDATABASE: 'prod',
    PGSSLMODE: 'verify-full',
    PGAPPNAME: 'deploy',
    PGPASSWORD: 'Secret-1',
  };
  // The password stays out of the URL: the driver reads PGPASSWORD itself.
  t.is(
    resolved('postgres://', env),
    'postgres://app@db.internal:6432/prod?sslmode=require&application_name=deploy',
  );
  t.is(
    resolved('postgres://other@h/x?sslmode=disable', env),
    'postgres://other@h:6432/x?sslmode=disable&application_name=deploy',
  );
  t.is(
    resolved('postgres://', { PGHOSTADDR: '10.0.0.7', PGHOST: 'db.internal', PGUSER: 'app' }),
    'postgres://app@10.0.0.7/app',
  );
  t.is(
    resolved('postgres://', { PGHOST: '/var/run/postgresql', PGUSER: 'app' }),
    'postgres://app@%2Fvar%2Frun%2Fpostgresql/app',
  );
  t.deepEqual(resolved('postgres://', { PGHOST: 'a,b', PGPORT: 'x', PGSSLMODE: 'sure' }), [
    'PGPORT must be a port number, got "x"',
    'PGHOST names several hosts (a,b); offloop connects to one: give one',
    'PGSSLMODE must be one of disable, allow, prefer, require, verify-ca, verify-full, no-verify, got "sure"',
  ]);
});

test('a URL without a password takes it from the password file, as libpq does', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'offloop-home-'));
  t.teardown(() => rm(home, { recursive: true, force: true }));
  const pgpass = join(home, '.pgpass');
  await writeFile(
    pgpass,
    [
      '# host:port:database:user:password',
      'other:*:*:*:nope',
      'db.internal:6432:prod:app:pa\\:ss\\\\1',
      'localhost:5432:*:app:on-the-socket',
      '',
    ].join('\n'),
  );
  await chmod(pgpass, 0o600);
  t.is(
    resolved('postgres://app@db.internal:6432/prod', { HOME: home }),
    'postgres://app:pa%3Ass%5C1@db.internal:6432/prod',
  );
  t.is(
    resolved('postgres://', {
      HOME: home,
      PGHOST: 'db.internal',
      PGPORT: '6432',
      PGUSER: 'app',
      PGDATABASE: 'prod',
    }),
    'postgres://app:pa%3Ass%5C1@db.internal:6432/prod',
  );
  // A socket directory matches a localhost line.
  t.is(
    resolved('postgres://app@/db?host=/var/run/postgresql&port=5432', { HOME: home }),
    'postgres://app:on-the-socket@%2Fvar%2Frun%2Fpostgresql:5432/db',
  );
  // A password given anywhere else wins; PGPASSWORD is the driver's to read.
  t.is(
    resolved('postgres://app:given@db.internal:6432/prod', { HOME: home }),
    'postgres://app:given@db.internal:6432/prod',
  );
  t.is(
    resolved('postgres://app@db.internal:6432/prod', { HOME: home, PGPASSWORD: 'from-env' }),
    'postgres://app@db.internal:6432/prod',
  );
  t.is(
    resolved('postgres://app@db.internal:6432/prod', { HOME: '/nonexistent', PGPASSFILE: pgpass }),
    'postgres://app:pa%3Ass%5C1@db.internal:6432/prod',
  );
  // No line for it, or a file others can read: no password.
  t.is(
    resolved('postgres://app@db.internal:5432/prod', { HOME: home }),
    'postgres://app@db.internal:5432/prod',
  );
  await chmod(pgpass, 0o644);
  t.is(
    resolved('postgres://app@db.internal:6432/prod', { HOME: home }),
    'postgres://app@db.internal:6432/prod',
  );
});

test('with no host anywhere, the socket directory a server listens in, else localhost, as libpq', async (t) => {
  const port = randomInt(40_000, 60_000);
  t.false(
    existsSync(`/var/run/postgresql/.s.PGSQL.${port}`) || existsSync(`/tmp/.s.PGSQL.${port}`),
    'a free socket name',
  );
  t.is(resolved('postgres://u@/db', { PGPORT: String(port) }), `postgres://u@localhost:${port}/db`);
  await socketDirectory(t, { dir: '/tmp', port });
  t.is(resolved('postgres://u@/db', { PGPORT: String(port) }), `postgres://u@%2Ftmp:${port}/db`);
  t.is(resolved(`postgres:///db?port=${port}&user=u`), `postgres://u@%2Ftmp:${port}/db`);
});

test('a URL naming a socket directory connects through it', async (t) => {
  const url = new URL(await createTestDatabase(t));
  const socket = await socketDirectory(t);
  const password = url.password === '' ? '' : `:${url.password}`;
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({
    url: `postgres://${url.username}${password}@/${databaseName(url.href)}?host=${socket.dir}&port=${socket.port}`,
    dir,
  });
  const result = await migrator.up();
  t.deepEqual(
    result.applied.map((migration) => migration.version),
    ['20260101000000'],
  );
  t.is(
    await withPool(url.href, (pool) =>
      pool.oneFirst(sql.unsafe`select count(*)::int from pg_tables where tablename = 'users'`),
    ),
    1,
  );
});

test('sslmode=require against a server without SSL is DATABASE_UNAVAILABLE, saying so', async (t) => {
  const url = new URL(await createTestDatabase(t));
  url.searchParams.set('sslmode', 'require');
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url: url.href, dir });
  const error = await t.throwsAsync(migrator.status(), {
    instanceOf: DatabaseUnavailableError,
    code: 'DATABASE_UNAVAILABLE',
  });
  t.regex(
    error.message,
    /^Cannot connect to postgres:\/\/.*sslmode=require: the server does not support SSL, and the URL asks for it/,
  );
});

test('an IPv6 address connects: the driver gets it without brackets, people see it with them', async (t) => {
  const url = await createTestDatabase(t);
  const ipv6 = url.replace('@127.0.0.1:', '@[::ffff:127.0.0.1]:');
  t.not(ipv6, url, 'the test server is on 127.0.0.1');
  t.is(resolved('postgres://u@[::1]:5433/db'), 'postgres://u@%3A%3A1:5433/db');
  t.is(redactUrl('postgres://u:secret@[::1]:5433/db'), 'postgres://u:***@[::1]:5433/db');
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url: ipv6, dir });
  t.is((await migrator.up()).applied.length, 1);
});

test('a port out of range is named as the problem', (t) => {
  t.deepEqual(resolved('postgres://u@localhost:99999/db'), [
    'port must be a port number (1-65535), got "99999"',
  ]);
});

test("libpq's key=value connection strings are read as psql reads them", async (t) => {
  t.is(
    resolved('host=db.internal port=5433 dbname=app user=alice'),
    'postgresql://alice@db.internal:5433/app',
  );
  t.is(
    resolved("host=/var/run/postgresql dbname='my app' user=bob password='it\\'s' sslmode=disable"),
    "postgresql://bob:it's@%2Fvar%2Frun%2Fpostgresql/my%20app?sslmode=disable",
  );
  t.deepEqual(resolved('host=db dbname'), [
    'is not a valid key=value connection string near "dbname"',
  ]);
  t.is(redactUrl('host=db user=alice password=secret dbname=app'), 'postgresql://alice:***@db/app');
  const url = new URL(await createTestDatabase(t));
  const quote = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  const password =
    url.password === '' ? '' : ` password=${quote(decodeURIComponent(url.password))}`;
  const conninfo = `host=${url.hostname} port=${url.port} user=${quote(decodeURIComponent(url.username))} dbname=${url.pathname.slice(1)}${password}`;
  const dir = await migrationsDir(t, { '20260101000000_users.sql': USERS });
  await using migrator = createMigrator({ url: conninfo, dir });
  t.is((await migrator.up()).applied.length, 1);
});
