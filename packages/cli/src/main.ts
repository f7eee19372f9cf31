/**
 * The `offloop` executable's body, loaded by `bin.ts` once it has checked the Node.js version:
 * the only place that touches the process. The exit code comes from `run`, which takes it from
 * the one table in `exit-codes.ts`.
 */
import { EXIT_CODES, EXIT_TERMINATED } from './exit-codes.ts';
import { run } from './index.ts';

const controller = new AbortController();
let interrupts = 0;
let terminated = false;

// The first Ctrl-C (or SIGTERM from a deploy system) cancels the run: the running statement is
// cancelled on the server, the transaction rolls back, the embedded PostgreSQL stops. A second
// one does not wait for that.
function interrupt(signal: NodeJS.Signals): void {
  interrupts += 1;
  if (signal === 'SIGTERM') terminated = true;
  if (interrupts === 1) {
    // On a terminal, clear the line first: a progress bar may be drawn on it (`fleet up`).
    const clear = process.stderr.isTTY ? '\r\u001b[2K' : '';
    process.stderr.write(
      `${clear}offloop: interrupted; cancelling the run (again to quit at once)\n`,
    );
    controller.abort();
  } else {
    process.exit(terminated ? EXIT_TERMINATED : EXIT_CODES.RUN_ABORTED);
  }
}

process.on('SIGINT', interrupt);
process.on('SIGTERM', interrupt);
try {
  // exitCode, not exit(): stdout may be a pipe still being written, and a run that leaves a
  // handle open is a bug to see, not to hide.
  const code = await run(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  });
  // As shells report the signal: 130 for SIGINT (Ctrl-C), 143 for SIGTERM, whatever the failure
  // the cancel ended in (a migration that ignored it and had its thread terminated, say). A run
  // that finished before the cancel could land reports its success.
  const interrupted = controller.signal.aborted && code !== 0;
  process.exitCode = interrupted ? (terminated ? EXIT_TERMINATED : EXIT_CODES.RUN_ABORTED) : code;
} finally {
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);
}
