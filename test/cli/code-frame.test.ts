/**
 * The pieces of a code frame (`output/code-frame.ts`), called directly: the line taken from the
 * file, the window around the column with the caret's padding, and the escaping of everything a
 * terminal would act on. `frame.test.ts` checks whole frames through `renderError`.
 */
import test from '../helpers/limited-test.ts';
import { escapeControls, frameLine, lineOf } from '../../packages/cli/src/output/code-frame.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz';

test('lineOf: the line without its LF or CRLF; undefined past the last line', (t) => {
  const text = 'one\r\ntwo\n\nfour';
  t.is(lineOf(text, 1), 'one');
  t.is(lineOf(text, 2), 'two');
  t.is(lineOf(text, 3), '');
  t.is(lineOf(text, 4), 'four');
  t.is(lineOf(text, 5), undefined);
  t.is(lineOf('last\n', 2), '');
  t.is(lineOf('last\n', 3), undefined);
  t.is(lineOf('', 1), '');
});

test('lineOf: a byte order mark is dropped at the start of the file only', (t) => {
  t.is(lineOf('\uFEFFselect 1;\n\uFEFFx', 1), 'select 1;');
  t.is(lineOf('\uFEFFselect 1;\n\uFEFFx', 2), '\uFEFFx');
});

test('escapeControls writes out C0 and C1 controls, DEL and CR, and keeps tabs and line feeds', (t) => {
  t.is(escapeControls('\x1b[31mred\x1b[0m'), '\\x1b[31mred\\x1b[0m');
  t.is(
    escapeControls('a\x00b\x07c\x08d\re\x7ff\x85g\x9bh'),
    'a\\x00b\\x07c\\x08d\\x0de\\x7ff\\x85g\\x9bh',
  );
  t.is(escapeControls('a\tb\nc'), 'a\tb\nc');
  t.is(escapeControls('\x0b\x0c\x1f'), '\\x0b\\x0c\\x1f');
});

test('escapeControls writes out bidi overrides and isolates and line separators', (t) => {
  t.is(
    escapeControls('\u202a\u202b\u202c\u202d\u202e|\u2066\u2067\u2068\u2069|\u2028\u2029'),
    '\\u{202a}\\u{202b}\\u{202c}\\u{202d}\\u{202e}|\\u{2066}\\u{2067}\\u{2068}\\u{2069}|\\u{2028}\\u{2029}',
  );
});

test('escapeControls writes out lone surrogates and keeps surrogate pairs', (t) => {
  t.is(escapeControls('a\uD83Db'), 'a\\u{d83d}b');
  t.is(escapeControls('a\uDE00b'), 'a\\u{de00}b');
  t.is(escapeControls('\uDE00\uD83D'), '\\u{de00}\\u{d83d}');
  t.is(escapeControls('😀'), '😀');
});

test('escapeControls keeps printable text as it is', (t) => {
  const text = "select 'café', '中文', '😀', 'e\u0301', '\u00a0', '\u200b', '…';";
  t.is(escapeControls(text), text);
});

test('frameLine: a short line whole, with no padding when there is no column', (t) => {
  t.deepEqual(frameLine('select x;', null), { text: 'select x;', pad: null });
  t.deepEqual(frameLine('select x;', 1), { text: 'select x;', pad: '' });
  t.deepEqual(frameLine('select x;', 8), { text: 'select x;', pad: ' '.repeat(7) });
});

test('frameLine: a column past the end pads to the end, one before the start pads nothing', (t) => {
  t.deepEqual(frameLine('abc', 4), { text: 'abc', pad: '   ' });
  t.deepEqual(frameLine('abc', 99), { text: 'abc', pad: '   ' });
  t.deepEqual(frameLine('abc', 0), { text: 'abc', pad: '' });
  t.deepEqual(frameLine('abc', -3), { text: 'abc', pad: '' });
});

test('frameLine: tabs are four spaces in the line and in the padding', (t) => {
  t.deepEqual(frameLine('\tx', 2), { text: '    x', pad: '    ' });
  t.deepEqual(frameLine('a\t\tb', 4), { text: 'a        b', pad: ' '.repeat(9) });
});

test('frameLine: wide characters pad two columns, combining marks none', (t) => {
  t.deepEqual(frameLine('中文x', 3), { text: '中文x', pad: '    ' });
  t.deepEqual(frameLine('😀x', 3), { text: '😀x', pad: '  ' });
  t.deepEqual(frameLine('e\u0301x', 3), { text: 'e\u0301x', pad: ' ' });
  t.deepEqual(frameLine('éx', 2), { text: 'éx', pad: ' ' });
});

test('frameLine: control characters are escaped and padded by their escaped width', (t) => {
  t.deepEqual(frameLine('\x1bx', 2), { text: '\\x1bx', pad: '    ' });
  t.deepEqual(frameLine('\u202eabc', 2), { text: '\\u{202e}abc', pad: ' '.repeat(8) });
  t.deepEqual(frameLine('a\rb', 3), { text: 'a\\x0db', pad: ' '.repeat(5) });
});

test('frameLine: a long line is cut to a window around the column, marked by an ellipsis on each cut side', (t) => {
  t.deepEqual(frameLine(ALPHABET, 13, 10), { text: '…hijklmnopq…', pad: ' '.repeat(6) });
  t.deepEqual(frameLine(ALPHABET, 26, 10), { text: '…qrstuvwxyz', pad: ' '.repeat(10) });
  t.deepEqual(frameLine(ALPHABET, 1, 10), { text: 'abcdefghij…', pad: '' });
  t.deepEqual(frameLine(ALPHABET, null, 10), { text: 'abcdefghij…', pad: null });
  t.deepEqual(frameLine(ALPHABET, 1, 26), { text: ALPHABET, pad: '' });
});

test('frameLine: the default window is 120 characters, the caret in its middle', (t) => {
  const line = `${'x'.repeat(500)}M${'y'.repeat(500)}`;
  const { text, pad } = frameLine(line, 501);
  t.is(text, `…${'x'.repeat(60)}M${'y'.repeat(59)}…`);
  t.is(pad, ' '.repeat(61));
});

test('frameLine: a cut never splits a surrogate pair', (t) => {
  // The window would start on the emoji's low surrogate: it starts on the whole emoji instead.
  t.deepEqual(frameLine('abcdef😀ghijklmnopqrst', 13, 10), {
    text: '…😀ghijklmno…',
    pad: ' '.repeat(7),
  });
  // The window would end between the emoji's halves: it ends after the whole emoji.
  t.deepEqual(frameLine('abcdefghijklm😀nopqrst', 10, 10), {
    text: '…efghijklm😀…',
    pad: ' '.repeat(6),
  });
});
