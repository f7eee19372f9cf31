/**
 * How an embedded server's failures read: one {@link EmbeddedPostgresError} per reason, with the
 * tail of the server's output (kept, bounded, in a {@link LogBuffer}) attached.
 */
import { inspect } from 'node:util';
import { EmbeddedPostgresError } from '@offloop/core';

const LOG_LIMIT = 64 * 1024;
const LOG_TAIL_LINES = 30;

/** Builds the error of one failed start, for a reason and its cause. */
export type Fail = (reason: string, cause?: unknown) => EmbeddedPostgresError;

/** The {@link Fail} of a server in `dataDir` whose output goes to `log`. */
export function failureIn(dataDir: string, log: LogBuffer): Fail {
  return (reason, cause) =>
    new EmbeddedPostgresError(
      `Embedded PostgreSQL in ${dataDir} failed: ${reason}${log.tail()}`,
      { dataDir, reason },
      cause === undefined ? undefined : { cause },
    );
}

/** The server's output, bounded; the tail goes into error messages. */
export class LogBuffer {
  #text = '';
  #dropped = 0;

  /** Total characters appended so far. */
  get length(): number {
    return this.#dropped + this.#text.length;
  }

  append(message: string): void {
    this.#text += message.endsWith('\n') ? message : `${message}\n`;
    if (this.#text.length > LOG_LIMIT) {
      const cut = this.#text.length - LOG_LIMIT / 2;
      this.#dropped += cut;
      this.#text = this.#text.slice(cut);
    }
  }

  /** What was appended after `offset` (as far as it is still kept). */
  since(offset: number): string {
    return this.#text.slice(Math.max(0, offset - this.#dropped));
  }

  /** The last lines, formatted for an error message, or '' when there is no output. */
  tail(): string {
    const lines = this.#text.trimEnd().split('\n').slice(-LOG_TAIL_LINES);
    return lines.join('').trim() === ''
      ? ''
      : `\n--- server output (last ${String(lines.length)} lines) ---\n${lines.join('\n')}`;
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** `: <message>` to end a sentence about a failure, or nothing when there is no error. */
export function errorSuffix(error: unknown): string {
  if (error instanceof Error) return `: ${error.message}`;
  return error === undefined ? '' : `: ${inspect(error)}`;
}
