/**
 * `-- offloop-lint-ignore <rule>[,<rule>...] <reason>` comments: on the lines right before a
 * statement they silence its findings of those rules; above the `-- migrate:up` marker line, the
 * whole file's. A directive without a reason, or naming no known rule, is itself a finding
 * (`lint-ignore-invalid`): a silenced finding should say why it is safe.
 */
import { isLintRuleId, type LintRuleId } from '../../model/lint.ts';

const DIRECTIVE = /--[ \t]*offloop-lint-ignore\b([^\n]*)/g;

/** The directives found in one stretch of comments. */
export type Directives = {
  /** Rules silenced there. */
  readonly rules: ReadonlySet<LintRuleId>;
  /** Malformed directives: where (a character offset into the text given) and what is wrong. */
  readonly problems: readonly { readonly index: number; readonly message: string }[];
};

/** The directives in `text` (comments; offsets relative to it). */
export function readDirectives(text: string): Directives {
  const rules = new Set<LintRuleId>();
  const problems: { index: number; message: string }[] = [];
  for (const match of text.matchAll(DIRECTIVE)) {
    const rest = (match[1] ?? '').trim();
    const [list = '', ...reason] = rest.split(/\s+/);
    const ids = list.split(',').filter((id) => id !== '');
    const unknown = ids.filter((id) => !isLintRuleId(id));
    if (ids.length === 0) {
      problems.push({ index: match.index, message: 'offloop-lint-ignore names no rule' });
      continue;
    }
    if (unknown.length > 0)
      problems.push({
        index: match.index,
        message: `offloop-lint-ignore names unknown rule${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}`,
      });
    if (reason.join(' ').trim() === '')
      problems.push({
        index: match.index,
        message: `offloop-lint-ignore ${list} gives no reason: say why it is safe here`,
      });
    for (const id of ids) if (isLintRuleId(id)) rules.add(id);
  }
  return { rules, problems };
}

/**
 * The index in `text` of the first character at or after `from` that is neither white space nor
 * part of a comment: where a statement really starts (the parser's offset of a statement
 * includes the comments before it).
 */
export function skipTrivia(text: string, from: number): number {
  let index = from;
  for (;;) {
    while (index < text.length && /\s/.test(text.charAt(index))) index += 1;
    if (text.startsWith('--', index)) {
      const end = text.indexOf('\n', index);
      index = end === -1 ? text.length : end + 1;
    } else if (text.startsWith('/*', index)) {
      index = blockCommentEnd(text, index);
    } else {
      return index;
    }
  }
}

/** The index after the block comment that starts at `start` (PostgreSQL's nest). */
function blockCommentEnd(text: string, start: number): number {
  let depth = 0;
  let index = start;
  while (index < text.length) {
    if (text.startsWith('/*', index)) {
      depth += 1;
      index += 2;
    } else if (text.startsWith('*/', index)) {
      depth -= 1;
      index += 2;
      if (depth === 0) return index;
    } else {
      index += 1;
    }
  }
  return text.length;
}
