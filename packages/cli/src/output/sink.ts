/**
 * Where the text of one run goes: stdout and stderr of its {@link Io}, every line redacted on the
 * way out, and on stderr (where error messages quote migration files and the server) every
 * control sequence escaped, so that neither can drive the terminal.
 */
import type { Io } from '../io.ts';
import { escapeControls } from './code-frame.ts';
import { Redactor } from './redact.ts';

/** The two streams of one run, redacted. */
type Sink = {
  /** Redact this URL's password from everything written from now on. */
  addSecret(url: string): void;
  /** Write to stdout: the result. */
  out(text: string): void;
  /** Write to stderr: progress, notices, human errors. */
  err(text: string): void;
};

/** The sink of one run over `io`'s streams. */
export function createSink(io: Pick<Io, 'stdout' | 'stderr'>): Sink {
  const redactor = new Redactor();
  return {
    addSecret(url) {
      redactor.add(url);
    },
    out(text) {
      io.stdout.write(redactor.redact(text));
    },
    err(text) {
      io.stderr.write(escapeControls(redactor.redact(text)));
    },
  };
}
