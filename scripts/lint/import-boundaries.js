// The import rules that keep each package and folder to its job (docs/architecture.md): an ESLint
// plugin of two rules, configured per package and per folder in eslint.config.js (the first rule
// under two names, `package-imports` and `forbidden-imports`, so that a package's options and a
// folder's apply together), tested by test/scripts/import-boundaries.test.ts. Unlike the built-in
// no-restricted-imports, they also see `import()` expressions (the CLI loads the worker lazily)
// and resolve relative paths, so a folder can be forbidden however it is reached.
import path from 'node:path';

const ROOT = path.dirname(path.dirname(import.meta.dirname));

/** The specifier of an import-like node and whether the import is erased (`import type`). */
function importsOf(node) {
  switch (node.type) {
    case 'ImportDeclaration':
      return { source: node.source, erased: node.importKind === 'type' };
    case 'ExportNamedDeclaration':
    case 'ExportAllDeclaration':
      return node.source === null
        ? null
        : { source: node.source, erased: node.exportKind === 'type' };
    case 'ImportExpression':
      return { source: node.source, erased: false };
    case 'TSImportType':
      // `typeof import('x')`: a type. (typescript-eslint 8 names the specifier `source`; before, it
      // was under `argument`, now deprecated.)
      return { source: node.source ?? node.argument.literal ?? node.argument, erased: true };
    default:
      return null;
  }
}

function specifierOf(source) {
  if (source.type === 'Literal' && typeof source.value === 'string') return source.value;
  if (source.type === 'TemplateLiteral' && source.expressions.length === 0)
    return source.quasis[0].value.cooked;
  return null;
}

/** A repository-relative path with `/` separators. */
function fromRoot(file) {
  return path.relative(ROOT, file).split(path.sep).join('/');
}

function visitImports(context, check) {
  const visit = (node) => {
    const found = importsOf(node);
    if (found === null) return;
    const specifier = specifierOf(found.source);
    if (specifier !== null) check(found.source, specifier, found.erased);
  };
  return {
    ImportDeclaration: visit,
    ExportNamedDeclaration: visit,
    ExportAllDeclaration: visit,
    ImportExpression: visit,
    TSImportType: visit,
  };
}

/**
 * `forbidden`: what the files may not import, each entry one of
 * - `{ name }`: a package (`pg` also forbids `pg/lib/...`) or an entry point (`@offloop/core/engine`);
 * - `{ pattern }`: a regular expression a bare specifier matches (`^@offloop/[^/]+/`);
 * - `{ folder }`: a repository-relative folder, however a relative path reaches it;
 * - `{ any: true }`: every import (with `allowTypes`, a file that may import only types);
 * with `message`, and `allowTypes: true` where `import type` (erased at build) is fine.
 */
const forbiddenImports = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports a folder may not make (its place in the architecture).' },
    schema: false,
    messages: { forbidden: '{{specifier}}: {{message}}' },
  },
  create(context) {
    const [{ forbidden }] = context.options;
    return visitImports(context, (source, specifier, erased) => {
      const relative = specifier.startsWith('.');
      const resolved = relative
        ? fromRoot(path.resolve(path.dirname(context.filename), specifier))
        : null;
      const rule = forbidden.find((entry) => {
        if (erased && entry.allowTypes === true) return false;
        if (entry.any === true) return true;
        if (entry.name !== undefined)
          return specifier === entry.name || specifier.startsWith(`${entry.name}/`);
        if (entry.pattern !== undefined)
          return !relative && new RegExp(entry.pattern).test(specifier);
        return (
          resolved !== null &&
          (resolved === entry.folder || resolved.startsWith(`${entry.folder}/`))
        );
      });
      if (rule !== undefined)
        context.report({
          node: source,
          messageId: 'forbidden',
          data: { specifier, message: rule.message },
        });
    });
  },
};

/** A relative import stays inside its own package: another package is reached by its name. */
const relativeImportsStayInPackage = {
  meta: {
    type: 'problem',
    docs: { description: "No package imports another package's files by relative path." },
    schema: [],
    messages: {
      outside:
        '{{specifier}} leaves {{own}}: import another package by its name (its package.json exports), never its files.',
    },
  },
  create(context) {
    const own = /^packages\/[^/]+/.exec(fromRoot(context.filename))?.[0];
    if (own === undefined) return {};
    return visitImports(context, (source, specifier) => {
      if (!specifier.startsWith('.')) return;
      const resolved = fromRoot(path.resolve(path.dirname(context.filename), specifier));
      if (!resolved.startsWith(`${own}/`))
        context.report({ node: source, messageId: 'outside', data: { specifier, own } });
    });
  },
};

export default {
  meta: { name: 'offloop-import-boundaries' },
  rules: {
    'forbidden-imports': forbiddenImports,
    'package-imports': forbiddenImports,
    'relative-imports-stay-in-package': relativeImportsStayInPackage,
  },
};
