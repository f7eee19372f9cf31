/**
 * Lint findings as a person reads them: `file:line:column rule-id [severity] message`, the line
 * with a caret under the column, the safe way, and the table's size when it graded the finding;
 * then a summary. Printed by `offloop lint` on stdout, and by `up` and `check` on stderr before
 * anything runs.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { count, type LintFinding, type LintResult, type TableSize } from '@offloop/core';
import { displayPath } from '../format.ts';
import { codeFrame, escapeControls, lineOf } from './code-frame.ts';

/** Where the files of the findings are. */
export type FindingContext = {
  readonly cwd: string;
  /** The migrations directory (absolute). */
  readonly migrationsDir: string;
};

/** Each finding as its lines: the location line, the code frame, the help and the table's size. */
export function renderFindings(
  findings: readonly LintFinding[],
  context: FindingContext,
): string[] {
  const sources = new Map<string, string | undefined>();
  const sourceOf = (path: string): string | undefined => {
    if (!sources.has(path)) {
      try {
        sources.set(path, readFileSync(path, 'utf8'));
      } catch {
        sources.set(path, undefined);
      }
    }
    return sources.get(path);
  };
  return findings.flatMap((finding) => {
    const path = resolve(context.migrationsDir, finding.file);
    const shown = displayPath(path, context.cwd);
    const lines = [
      `${shown}:${finding.line}:${finding.column} ${finding.rule} [${finding.severity}] ` +
        escapeControls(finding.message),
    ];
    const source = sourceOf(path);
    const text = source === undefined ? undefined : lineOf(source, finding.line);
    if (text !== undefined) lines.push(...codeFrame(text, finding.line, finding.column));
    if (finding.size !== null && finding.table !== null)
      lines.push(`  = table: ${finding.table}, ${describeSize(finding.size)}`);
    lines.push(`  = help: ${finding.help}`, '');
    return lines;
  });
}

/** `~1.2M rows, 850 MB` */
function describeSize(size: TableSize): string {
  const rows = size.rows === null ? 'never analyzed' : `~${compact(size.rows)} rows`;
  return `${rows}, ${bytes(size.bytes)}`;
}

function compact(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

function bytes(n: number): string {
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

/** `2 errors, 1 warning, 0 notes`, counting `findings` by severity. */
export function severityCounts(findings: readonly LintFinding[]): string {
  const of = (severity: LintFinding['severity']): number =>
    findings.filter((finding) => finding.severity === severity).length;
  return `${count(of('error'), 'error')}, ${count(of('warning'), 'warning')}, ${count(of('note'), 'note')}`;
}

/** The summary line of `offloop lint`. */
export function lintSummary(result: LintResult): string {
  const where = `in ${count(result.files, 'SQL migration')}`;
  const assumed = result.live
    ? `; PostgreSQL ${result.postgresVersion ?? '?'}, graded by table size`
    : result.postgresVersion === null
      ? '; offline'
      : `; offline, assuming PostgreSQL ${result.postgresVersion}`;
  if (result.findings.length === 0) return `No findings ${where}${assumed}.`;
  const verdict = result.failed ? 'lint failed' : 'lint passed';
  return (
    `${count(result.findings.length, 'finding')} (${severityCounts(result.findings)}) ` +
    `${where}${assumed}: ${verdict}.`
  );
}
