/**
 * The Node.js offloop needs, checked before any of its code runs. Every package's entry imports
 * this module first (core's entries directly, the others through `@offloop/core`), and an ES
 * module's imports run in order, depth first: on an older Node the first failure is therefore this
 * one, naming the version needed, instead of whatever newer feature the rest of the code meets
 * first (`ReferenceError: SuppressedError is not defined` on Node 20).
 *
 * It imports nothing, and stays within syntax that Node 20 parses: an ES module graph that does not
 * parse fails before any of it runs, this check included (a test loads every entry on Node 20).
 * It throws a plain `Error` with a `code`, not an `OffloopError`: those classes are the
 * failures of a supported Node, and this module cannot depend on them.
 *
 * The CLI's `bin.ts` makes the same check itself, before it imports any package.
 */

/** The oldest Node.js major offloop runs on, as the packages' `engines` say (`>=24`). */
export const REQUIRED_NODE_MAJOR = 24;

/** The `code` of the error thrown on an older Node.js; see `docs/errors.md`. */
export const NODE_VERSION_UNSUPPORTED = 'NODE_VERSION_UNSUPPORTED';

/**
 * Whether a Node.js version (`process.versions.node`, `"24.1.0"`, with or without a leading `v`)
 * is new enough for offloop. Node 24.0 has all it uses (explicit resource management, type
 * stripping on by default, `Error.isError`), so only the major counts. A version it cannot read is
 * let through: the check is there to explain an old Node, not to turn other runtimes away.
 */
export function isSupportedNode(version: string): boolean {
  const major = Number.parseInt(version.replace(/^v/, ''), 10);
  return Number.isNaN(major) || major >= REQUIRED_NODE_MAJOR;
}

/** The error offloop's packages throw, when imported, on a Node.js older than it needs. */
export class NodeVersionError extends Error {
  /** Always {@link NODE_VERSION_UNSUPPORTED}. */
  readonly code = NODE_VERSION_UNSUPPORTED;
  /** The Node.js found (`process.versions.node`), the one needed, and where it runs from. */
  readonly details: {
    readonly version: string;
    readonly required: string;
    readonly execPath: string;
  };

  constructor(version: string, execPath: string) {
    super(
      `offloop needs Node.js ${REQUIRED_NODE_MAJOR} or newer; this is Node.js ${version} ` +
        `(${execPath}). Install Node.js ${REQUIRED_NODE_MAJOR} (\`nvm install ${REQUIRED_NODE_MAJOR}\`, ` +
        'or from https://nodejs.org) and run with it.',
    );
    this.name = 'NodeVersionError';
    this.details = { version, required: `>=${REQUIRED_NODE_MAJOR}`, execPath };
  }
}

/** Throws a {@link NodeVersionError} when `version` is older than offloop needs. */
export function assertSupportedNode(version: string, execPath: string): void {
  if (!isSupportedNode(version)) throw new NodeVersionError(version, execPath);
}

// The check itself, when the module is imported.
assertSupportedNode(process.versions.node, process.execPath);
