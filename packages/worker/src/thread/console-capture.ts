/** The worker thread's `console`, captured while a task runs. */
import { Console } from 'node:console';
import { Writable } from 'node:stream';

/**
 * The thread's `console` while a task runs: what a migration logs becomes `migration:progress`
 * events of the migration that logged it, one per line, instead of going to the host process's
 * stdout, where it would break `--json` output and bypass the host's own logging.
 */
export class ConsoleCapture {
  readonly #previous = globalThis.console;
  readonly #onLine: (line: string) => void;
  #partial = '';

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
    const sink = new Writable({
      write: (chunk: Buffer | string, _encoding, done) => {
        const lines = (this.#partial + String(chunk)).split('\n');
        this.#partial = lines.pop() ?? '';
        for (const line of lines) this.#onLine(line);
        done();
      },
    });
    globalThis.console = new Console({ stdout: sink, stderr: sink });
  }

  /** Put the thread's console back, sending a last line that had no newline. */
  restore(): void {
    globalThis.console = this.#previous;
    if (this.#partial !== '') this.#onLine(this.#partial);
    this.#partial = '';
  }
}
