/**
 * Text from migration files, fit for a terminal whatever the files hold. A code frame's line is
 * a window around the column with the caret under it (a 10 MB one-line file prints 120
 * characters, not 20 MB), and control characters (ESC above all) are shown escaped there and in
 * everything else the CLI prints on stderr, so a migration file cannot drive the terminal.
 */

/** At most this many characters of the line are shown, around the column. */
const FRAME_WIDTH = 120;

/** Marks a side of the line that the window cut off. */
const ELLIPSIS = '…';

/** Spaces a tab is shown as: the caret line uses the same, so it stays under its character. */
const TAB = '    ';

/**
 * Line `line` (1-based) of `text`, without its line break (or a byte order mark at the start of
 * the file); undefined past the end. Walks to it instead of splitting the whole file.
 */
export function lineOf(text: string, line: number): string | undefined {
  let start = 0;
  for (let current = 1; current < line; current += 1) {
    const newline = text.indexOf('\n', start);
    if (newline === -1) return undefined;
    start = newline + 1;
  }
  const newline = text.indexOf('\n', start);
  let result = text.slice(start, newline === -1 ? text.length : newline);
  if (result.endsWith('\r')) result = result.slice(0, -1);
  return line === 1 && result.startsWith('\uFEFF') ? result.slice(1) : result;
}

/**
 * `text` shown safely, at most about {@link FRAME_WIDTH} characters around the 1-based UTF-16
 * `column` (as offloop counts columns), and the caret line's padding that puts `^` under that
 * column's character (null when there is no column).
 */
export function frameLine(
  text: string,
  column: number | null,
  width = FRAME_WIDTH,
): { text: string; pad: string | null } {
  const index = column === null ? 0 : Math.min(Math.max(0, column - 1), text.length);
  let start = 0;
  let end = text.length;
  if (text.length > width) {
    start = Math.max(0, Math.min(index - Math.floor(width / 2), text.length - width));
    end = Math.min(text.length, start + width);
    // Never cut a surrogate pair in two.
    if (isLowSurrogate(text.charCodeAt(start)) && start > 0) start -= 1;
    if (isLowSurrogate(text.charCodeAt(end)) && end < text.length) end += 1;
  }
  const before = `${start > 0 ? ELLIPSIS : ''}${escapeForTerminal(text.slice(start, index))}`;
  const after = end < text.length ? ELLIPSIS : '';
  const shown = `${before}${escapeForTerminal(text.slice(index, end))}${after}`;
  return { text: shown, pad: column === null ? null : ' '.repeat(displayWidth(before)) };
}

/**
 * The frame of line `line` (its text `text`): a gutter, the line, and a caret under `column`
 * (none when null), as lines to print.
 */
export function codeFrame(text: string, line: number, column: number | null): string[] {
  const number = String(line);
  const gutter = ' '.repeat(number.length);
  // A window around the column, control characters escaped.
  const frame = frameLine(text, column);
  const lines = [`  ${gutter} |`, `  ${number} | ${frame.text}`];
  if (frame.pad !== null) lines.push(`  ${gutter} | ${frame.pad}^`);
  return lines;
}

/**
 * `text` with every character a terminal would act on, rather than show, written out, except
 * line breaks and tabs: C0 and C1 controls, DEL and a carriage return as `\x1b`, bidirectional
 * overrides and line separators (which can make a line read as something else) and lone
 * surrogates as `\u{202e}`. Everything the CLI prints on stderr goes through it.
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/** {@link escapeControls} for one line of a frame: tabs as spaces too, so the caret can line up. */
function escapeForTerminal(text: string): string {
  return escapeControls(text).replaceAll('\t', TAB);
}

// C0 controls but tab and line feed, DEL and C1 controls; U+2028/2029; bidi embeddings,
// overrides and isolates; lone surrogates.
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\p{Cs}/gu;

/** Terminal columns of already escaped text: wide (East Asian, most emoji) characters take two, combining marks none. */
function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += ZERO_WIDTH.test(char) ? 0 : WIDE.test(char) ? 2 : 1;
  return width;
}

// Variation selectors are Mn.
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\u200b-\u200d]$/u;
// East Asian wide characters: Hangul, kana and CJK, Yi, fullwidth forms, emoji, CJK extension B on.
const WIDE_RANGES = [
  String.raw`\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf`,
  String.raw`\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6`,
  String.raw`\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}`,
];
const WIDE = new RegExp(`^[${WIDE_RANGES.join('')}]$`, 'u');

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
