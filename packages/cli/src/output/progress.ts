/** Progress events as the lines a person watching the run reads on stderr. */
import type { LockBlocker, ProgressEvent } from '@offloop/core';
import { formatDuration } from '../format.ts';

/** The human line for a progress event, or null for events that need none. */
export function renderProgress(event: ProgressEvent): string | null {
  switch (event.type) {
    case 'run:started':
    case 'plan:ready':
    case 'lint:findings':
    case 'run:finished':
    case 'migration:backend':
    case 'migration:loading':
      // lint:findings is several lines with code frames: output.ts prints it (output/lint.ts).
      return null;
    case 'lock:waiting': {
      const holder =
        event.holderPid === null ? '' : ` (held by PostgreSQL backend ${event.holderPid})`;
      return event.waitedMs < 1000
        ? `offloop: waiting for the migration lock${holder}, ` +
            `up to ${formatDuration(event.timeoutMs)}`
        : `offloop: still waiting for the migration lock${holder}: ` +
            `${formatDuration(event.waitedMs)} of ${formatDuration(event.timeoutMs)}`;
    }
    case 'lock:acquired':
      return event.waitedMs >= 1000
        ? `offloop: got the migration lock after ${formatDuration(event.waitedMs)}`
        : null;
    case 'lock:orphans':
      return (
        'offloop: an earlier run lost the migration lock (killed, or its connection dropped) ' +
        `while PostgreSQL backend${event.pids.length === 1 ? '' : 's'} ${event.pids.join(', ')} ` +
        `still ran its work; ended ${event.pids.length === 1 ? 'it' : 'them'} before starting`
      );
    case 'migration:started': {
      const what = `${event.direction === 'down' ? 'down ' : ''}${event.file}`;
      return (
        `[${event.index}/${event.total}] ` +
        `${what}${event.transactional ? '' : ' (transaction:false, one statement at a time)'} ...`
      );
    }
    case 'migration:blocked': {
      const holders = event.blockedBy.map((holder) => describeHolder(holder, false));
      const who = holders.length === 0 ? '' : `, held up by ${holders.join(' and ')}`;
      const why =
        event.lockType === 'virtualxid'
          ? ' (a concurrent index build waits for every transaction older than it, on any table)'
          : '';
      const waited = formatDuration(event.waitedMs);
      return `      waiting for a lock (${event.lockType}) for ${waited}${who}${why}`;
    }
    case 'migration:lock-retry': {
      const which = event.statement === null ? '' : `statement ${event.statement}: `;
      const holders = event.blockedBy.map((holder) => describeHolder(holder, true));
      const who = holders.length === 0 ? '' : `, held up by ${holders.join(' and ')}`;
      return (
        `      ${which}no lock within lock_timeout ${formatDuration(event.lockTimeoutMs)} ` +
        `(attempt ${event.attempt} of ${event.attempts})${who}; rolled back, retrying in ` +
        `${formatDuration(event.waitMs)} with lock_timeout ${formatDuration(event.nextLockTimeoutMs)}`
      );
    }
    case 'migration:progress': {
      const fraction =
        event.done === null
          ? ''
          : event.total === null
            ? ` (${event.done})`
            : ` (${event.done}/${event.total})`;
      return `      ${event.message}${fraction}`;
    }
    case 'migration:finished':
      return (
        `[${event.index}/${event.total}] ` +
        `${event.direction === 'down' ? `down ${event.file} reverted` : `${event.file} applied`} ` +
        `in ${formatDuration(event.durationMs)}`
      );
  }
}

/** The longest part of a blocker's query a progress line shows. */
const QUERY_CHARS = 80;

/** `backend 42 (psql, user alice, idle in transaction, transaction open 41 s)`, and its query. */
function describeHolder(holder: LockBlocker, withQuery: boolean): string {
  const what = [
    holder.applicationName === '' ? null : holder.applicationName,
    holder.user === null ? null : `user ${holder.user}`,
    holder.state,
    holder.transactionMs === null
      ? null
      : `transaction open ${formatDuration(holder.transactionMs)}`,
  ].filter((part) => part !== null);
  const text = holder.query?.replaceAll(/\s+/g, ' ').trim() ?? '';
  const query =
    !withQuery || text === ''
      ? ''
      : `: ${text.length > QUERY_CHARS ? `${text.slice(0, QUERY_CHARS - 3)}...` : text}`;
  return `backend ${holder.pid}${what.length === 0 ? '' : ` (${what.join(', ')}${query})`}`;
}
