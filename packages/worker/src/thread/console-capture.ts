/** The worker thread's `console`, captured while tasks run. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Console } from 'node:console';
import { Writable } from 'node:stream';

/** One task's capture: the lines it logged, and a last line without its newline. */
class LineSink {
  readonly onLine: (line: string) => void;
  partial = '';

  constructor(onLine: (line: string) => void) {
    this.onLine = onLine;
  }

  write(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  flush(): void {
    if (this.partial !== '') this.onLine(this.partial);
    this.partial = '';
  }
}

/** The task whose code is running, across its awaits: a fleet's thread runs several at once. */
const sinks = new AsyncLocalStorage<LineSink>();
let active = 0;
let previous: Console = globalThis.console;

/** The thread's console while any task runs: each line goes to the task that logged it. */
const captured = new Console({
  stdout: new Writable({
    write: (chunk: Buffer | string, _encoding, done) => {
      sinks.getStore()?.write(String(chunk));
      done();
    },
  }),
});

/**
 * Run a task with the thread's `console` captured: what a migration logs becomes lines for
 * `onLine` (its `migration:progress` events), one per line, instead of going to the host process's
 * stdout, where it would break `--json` output and bypass the host's own logging. Tasks that run
 * at once in one thread each get their own lines (through `AsyncLocalStorage`).
 */
export async function withConsoleCapture<T>(
  onLine: (line: string) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const sink = new LineSink(onLine);
  if (active === 0) {
    previous = globalThis.console;
    globalThis.console = captured;
  }
  active += 1;
  try {
    return await sinks.run(sink, fn);
  } finally {
    active -= 1;
    if (active === 0) globalThis.console = previous;
    sink.flush();
  }
}
