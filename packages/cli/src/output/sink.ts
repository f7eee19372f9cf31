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
  /**
   * On a terminal, show `text` as the last line of stderr, redrawn in place (a progress bar);
   * null takes it away. Whatever else is written to stderr goes above it. Elsewhere, nothing.
   */
  live(text: string | null): void;
};

/** Back to the start of the line, and clear it (ANSI: CR, erase line). */
const CLEAR_LINE = '\r\u001b[2K';

/** The sink of one run over `io`'s streams. */
export function createSink(io: Pick<Io, 'stdout' | 'stderr'>): Sink {
  const redactor = new Redactor();
  const terminal = io.stderr.isTTY === true;
  let live: string | null = null;
  // The escape sequences are added after the text is escaped: only the sink's own drive the terminal.
  const draw = (): string => {
    if (live === null) return '';
    // A terminal of unknown width (0 under some pseudo-terminals) is taken to be 80 wide.
    const columns = io.stderr.columns ?? 0;
    const width = Math.max(20, (columns > 0 ? columns : 80) - 1);
    const text = escapeControls(redactor.redact(live));
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  };
  return {
    addSecret(url) {
      redactor.add(url);
    },
    out(text) {
      io.stdout.write(redactor.redact(text));
    },
    err(text) {
      const escaped = escapeControls(redactor.redact(text));
      io.stderr.write(live === null ? escaped : `${CLEAR_LINE}${escaped}${draw()}`);
    },
    live(text) {
      if (!terminal) return;
      const shown = live !== null;
      live = text;
      if (text !== null || shown) io.stderr.write(`${CLEAR_LINE}${draw()}`);
    },
  };
}
