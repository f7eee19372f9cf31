import test from 'ava';
import { ConfigError, parseConfig, redactUrl } from '@offloop/core';
import { createMigrator } from '@offloop/worker';
import { isAbsolute } from 'node:path';

test('defaults fill in and durations accept units', (t) => {
  const config = parseConfig({ url: 'postgres://u@localhost/db', lockTimeout: '30s', statementTimeout: '2m' });
  t.is(config.schema, 'public');
  t.is(config.table, 'offloop_migrations');
  t.is(config.lockTimeout, 30_000);
  t.is(config.statementTimeout, 120_000);
  t.true(isAbsolute(config.dir));
  t.true(config.dir.endsWith('migrations'));
});

test('every problem is reported at once, unknown keys included', (t) => {
  const error = t.throws(
    () => createMigrator({ url: 'mysql://nope', table: 'bad-name', lockTimeout: 'soon', tabel: 'x' } as never),
    { instanceOf: ConfigError, code: 'CONFIG_INVALID' },
  );
  const paths = error.details.issues.map((issue) => issue.path).sort();
  t.deepEqual(paths, ['(root)', 'lockTimeout', 'table', 'url']);
  t.regex(error.message, /tabel/);
});

test('a missing url is reported', (t) => {
  const error = t.throws(() => parseConfig({}), { instanceOf: ConfigError });
  t.deepEqual(error.details.issues.map((issue) => issue.path), ['url']);
});

test('up() options are validated too', async (t) => {
  await using migrator = createMigrator({ url: 'postgres://u@localhost/db' });
  await t.throwsAsync(migrator.up({ to: 'yesterday' }), { instanceOf: ConfigError, code: 'CONFIG_INVALID' });
});

test('passwords in URLs are redacted', (t) => {
  t.is(redactUrl('postgres://alice:s3cret@db:5432/app'), 'postgres://alice:***@db:5432/app');
  t.is(redactUrl('postgres://db/app?password=s3cret'), 'postgres://db/app?password=***');
  t.false(redactUrl('not a url').includes('not a url'));
});

test('a password given as ?password= (libpq\'s form) moves into the URL, where the driver reads it', (t) => {
  const config = parseConfig({ url: 'postgres://app@db.internal:5432/app?password=s%40cret&sslmode=require', lockUrl: 'postgres://app@db:5432/app?password=x' });
  t.is(config.url, 'postgres://app:s%40cret@db.internal:5432/app?sslmode=require');
  t.is(config.lockUrl, 'postgres://app:x@db:5432/app');
  t.is(redactUrl(config.url), 'postgres://app:***@db.internal:5432/app?sslmode=require');
  // Decoded as libpq decodes it: "+" is a plus sign, not a space.
  t.is(parseConfig({ url: 'postgres://app@db/app?password=a+b%20c' }).url, 'postgres://app:a%2Bb%20c@db/app');
  // A password in both places: the user info wins, the URL is left as it is.
  t.is(parseConfig({ url: 'postgres://app:a@db/app?password=b' }).url, 'postgres://app:a@db/app?password=b');
});
