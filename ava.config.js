export default {
  files: ['test/**/*.test.ts', 'examples/testing/ava.test.ts'],
  extensions: { ts: 'module' },
  // Inactivity timeout: on a loaded 2-core CI machine a test that creates databases can be slow.
  timeout: '5m',
  // Starts (or connects to) PostgreSQL once per run; each test then creates its own database.
  require: [],
};
