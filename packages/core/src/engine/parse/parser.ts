/**
 * PostgreSQL's own parser (libpg-query, WASM), loaded once per thread: statements with their
 * place in the text and their parse nodes. Splitting migrations (`prepare/split.ts`) and guarding
 * a module's connection (`apply/guarded-connection.ts`) both read SQL through it.
 */
import v8 from 'node:v8';

type LibPgQuery = typeof import('libpg-query');

/**
 * Set to `1` by the CLI (its own process): keep the parser's WebAssembly on V8's baseline code.
 * Parsing a few dozen files makes the grammar's huge functions "hot", and V8 compiles them again
 * in background threads, seconds of CPU that a short-lived process never gets back (and waits
 * for before it can exit). V8's flags are the whole process's, so a library in a host leaves them
 * alone unless its host sets this; they are set here, when the parser is first needed, because
 * flags changed before a thread starts cost that thread Node's cached code (docs/benchmarks.md,
 * "The parser's tier-up").
 */
const PARSER_BASELINE_ENV = 'OFFLOOP_PARSER_BASELINE';

let ready: Promise<void> | undefined;
/** The parser once loaded; imported with it, not with this module (see {@link loadParser}). */
let parseSync: LibPgQuery['parseSync'] = () => {
  throw new Error('offloop: the parser is not loaded (call loadParser first)');
};

/**
 * Load the parser's WASM module once per thread. libpg-query starts reading its WASM as soon as
 * it is imported: it is imported here, when a call has SQL to parse, so that a no-op never pays
 * for it (about 25 ms at a thread's start).
 */
export function loadParser(): Promise<void> {
  // A failed load is not kept: the next run of this thread tries again.
  if (ready === undefined && process.env[PARSER_BASELINE_ENV] === '1') {
    v8.setFlagsFromString('--no-wasm-dynamic-tiering');
    v8.setFlagsFromString('--no-wasm-tier-up');
  }
  ready ??= import('libpg-query')
    .then(async (parser) => {
      await parser.loadModule();
      parseSync = parser.parseSync;
    })
    .catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
  return ready;
}

/** One statement as the parser sees it. */
export type ParsedStatement = {
  /** Where the statement starts, in UTF-8 bytes of the text. */
  readonly location: number;
  /** Its length in UTF-8 bytes; 0 means "to the end of the text". */
  readonly length: number;
  /** The parse node's type (`CreateStmt`, `TransactionStmt`, ...). */
  readonly kind: string;
  readonly node: unknown;
};

/**
 * The statements of `text`. Throws the parser's error (with its `sqlDetails`) when it does not
 * parse. Call {@link loadParser} first.
 */
export function parseStatements(text: string): ParsedStatement[] {
  return (parseSync(text).stmts ?? []).map((entry) => {
    const kind = Object.keys(entry.stmt ?? {})[0] ?? 'Unknown';
    return {
      location: entry.stmt_location ?? 0,
      length: entry.stmt_len ?? 0,
      kind,
      node: (entry.stmt as Record<string, unknown> | undefined)?.[kind],
    };
  });
}

/**
 * The parse nodes of `text`'s statements, or null when it does not parse (the server will say
 * why). Call {@link loadParser} first.
 */
export function parseNodes(
  text: string,
): { readonly kind: string; readonly node: unknown }[] | null {
  try {
    return parseStatements(text).map(({ kind, node }) => ({ kind, node }));
  } catch {
    return null;
  }
}
