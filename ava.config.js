export default {
  files: ['test/**/*.test.ts', 'examples/testing/ava.test.ts'],
  extensions: { ts: 'module' },
  timeout: '2m',
  // Starts (or connects to) PostgreSQL once per run; each test then creates its own database.
  require: [],
};
