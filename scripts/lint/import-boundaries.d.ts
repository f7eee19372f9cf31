// The types of import-boundaries.js, for its test (test/scripts/import-boundaries.test.ts).
import type { ESLint, Rule } from 'eslint';

declare const plugin: ESLint.Plugin & {
  readonly rules: {
    readonly 'forbidden-imports': Rule.RuleModule;
    readonly 'package-imports': Rule.RuleModule;
    readonly 'relative-imports-stay-in-package': Rule.RuleModule;
  };
};
export default plugin;
