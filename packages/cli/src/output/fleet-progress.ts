/**
 * A fleet's progress as a person watching it reads it on stderr. On a terminal: one bar line
 * redrawn in place (targets done of those to run, failures, rate, time left) under a permanent
 * line per failure and per canary. Elsewhere (a CI log): a line per target that applied something
 * or failed. Both start with the plan and say why the fleet stops when it stops early.
 */
import { count, type FleetEvent, type FleetStop, type TargetResult } from '@offloop/core';
import { formatDuration } from '../format.ts';
import type { Output } from './output.ts';

/** How often the bar is redrawn while nothing happens (its rate and time left move). */
const REDRAW_MS = 1000;

/** Cells of the bar itself. */
const BAR_CELLS = 24;

/** Where a fleet's run stands, for the bar. */
type BarState = {
  /** Targets finished, of `total`, the targets to run. */
  readonly done: number;
  readonly total: number;
  readonly failed: number;
  readonly running: number;
  /** Since the plan. */
  readonly elapsedMs: number;
};

/** `[██████░░░░] 12/20 targets · 3 running · 1 failed · 4.2/s · ETA 2 s` */
function progressBar(state: BarState): string {
  const fraction = state.total === 0 ? 1 : Math.min(1, state.done / state.total);
  const filled = Math.round(fraction * BAR_CELLS);
  const rate = state.elapsedMs > 0 ? state.done / (state.elapsedMs / 1000) : 0;
  const left = state.total - state.done;
  const eta = rate > 0 && left > 0 ? `ETA ${formatDuration((left / rate) * 1000)}` : null;
  return [
    `[${'█'.repeat(filled)}${'░'.repeat(BAR_CELLS - filled)}] ${state.done}/${state.total} targets`,
    state.running > 0 ? `${state.running} running` : null,
    state.failed > 0 ? `${state.failed} failed` : null,
    state.done > 0 ? `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s` : null,
    eta,
  ]
    .filter((part) => part !== null)
    .join(' · ');
}

/** The plan, in one line. */
function plannedLine(event: Extract<FleetEvent, { type: 'fleet:planned' }>): string {
  if (event.total === 0) return 'fleet: no targets found';
  if (event.toRun === 0) return `fleet: ${count(event.total, 'target')}, all up to date`;
  const canaries =
    event.canaries.length === 0
      ? ''
      : `; ${event.canaries.length === 1 ? 'canary' : 'canaries'} first: ${bounded(event.canaries, 5)}`;
  return `fleet: ${count(event.total, 'target')}: ${event.upToDate} up to date, ${event.toRun} to run${canaries}`;
}

/**
 * The permanent line of a target's end, or null for none: a failure or a cancel always; a
 * canary always; another target that applied something only when `everyTarget` (no bar).
 */
function targetLine(result: TargetResult, everyTarget: boolean): string | null {
  const who = `${result.canary ? 'canary ' : ''}${result.target}`;
  const error =
    result.error === null ? '' : `${result.error.code}: ${firstLine(result.error.message)}`;
  switch (result.outcome) {
    case 'failed':
      return `✗ ${who}: ${error}${serverLines(result.error)}`;
    case 'cancelled':
      return `○ ${who}: cancelled${error === '' ? '' : ` (${error})`}`;
    case 'applied': {
      if (!result.canary && (!everyTarget || result.applied.length === 0)) return null;
      const what =
        result.applied.length === 0
          ? 'nothing to apply'
          : `applied ${count(result.applied.length, 'migration')}`;
      const now = result.version === null ? '' : `, now at ${result.version}`;
      return `✓ ${who}: ${what} in ${formatDuration(result.durationMs)}${now}`;
    }
    case 'up-to-date':
    case 'not-run':
      return null;
  }
}

/** Why the fleet stops, in one line. */
function stoppingLine(reason: Exclude<FleetStop, null>): string {
  switch (reason) {
    case 'canary-failed':
      return 'fleet: the canary failed: stopping; no other target is touched';
    case 'failures':
      return (
        'fleet: stopping after a failure (--on-error, --max-failures): no more targets start; ' +
        'those in flight finish'
      );
    case 'files':
      return (
        'fleet: the migration files are invalid (every target would fail the same way): no more ' +
        'targets start; those in flight finish'
      );
    case 'aborted':
      return 'fleet: cancelled: no more targets start; those in flight roll back';
    case 'timeout':
      return 'fleet: out of time (--timeout): no more targets start; those in flight roll back';
  }
}

/** The first `limit` names, then how many more. */
export function bounded(names: readonly string[], limit: number): string {
  if (names.length <= limit) return names.join(', ');
  return `${names.slice(0, limit).join(', ')} and ${names.length - limit} more`;
}

/** PostgreSQL's DETAIL and HINT of a failure, indented under its line (empty for none). */
function serverLines(error: TargetResult['error']): string {
  // PostgreSQL's DETAIL may have lines of its own (a deadlock's: one per process).
  const indented = (text: string) => text.replaceAll('\n', '\n          ');
  let lines = '';
  if (error?.detail != null) lines += `\n    detail: ${indented(error.detail)}`;
  if (error?.hint != null) lines += `\n    hint: ${indented(error.hint)}`;
  return lines;
}

function firstLine(text: string): string {
  const [first = ''] = text.split('\n');
  return first;
}

/**
 * The progress of one `fleet up` on an output: give its {@link FleetProgress.onProgress} to the
 * call, and dispose of it when the call settles (the bar goes, its timer stops).
 */
export class FleetProgress implements Disposable {
  readonly #output: Output;
  readonly #now: () => number;
  /** A bar is drawn: human output on a terminal. */
  readonly #bar: boolean;
  #timer: NodeJS.Timeout | undefined;
  #plannedAt = 0;
  #total = 0;
  #started = 0;
  #done = 0;
  #failed = 0;
  #stopping = false;

  constructor(output: Output, now: () => number = () => performance.now()) {
    this.#output = output;
    this.#now = now;
    this.#bar = output.terminal && !output.json;
  }

  /** The call's progress listener. */
  readonly onProgress = (event: FleetEvent): void => {
    const lines: string[] = [];
    switch (event.type) {
      case 'fleet:planned':
        this.#plannedAt = this.#now();
        this.#total = event.toRun;
        lines.push(plannedLine(event));
        if (this.#bar && event.toRun > 0) {
          this.#timer = setInterval(() => this.#draw(), REDRAW_MS);
          this.#timer.unref();
        }
        break;
      case 'target:started':
        this.#started += 1;
        break;
      case 'target:finished': {
        this.#done += 1;
        if (event.result.outcome === 'failed') this.#failed += 1;
        const line = targetLine(event.result, !this.#bar);
        if (line !== null) lines.push(line);
        break;
      }
      case 'fleet:stopping':
        // Said once: the fleet reports each failure that comes after its decision again.
        if (!this.#stopping) lines.push(stoppingLine(event.reason));
        this.#stopping = true;
        break;
      case 'fleet:finished':
        this.#stop();
        return;
    }
    // The bar first, so that the lines go above the bar as it now is.
    this.#draw();
    this.#output.progressLines(lines);
  };

  [Symbol.dispose](): void {
    this.#stop();
  }

  #draw(): void {
    if (!this.#bar || this.#timer === undefined) return;
    this.#output.live(
      progressBar({
        done: this.#done,
        total: this.#total,
        failed: this.#failed,
        running: this.#started - this.#done,
        elapsedMs: this.#now() - this.#plannedAt,
      }),
    );
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#bar) this.#output.live(null);
  }
}
