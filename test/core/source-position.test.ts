/**
 * Positions in migration files (`files/source-position.ts`): character offsets to 1-based lines
 * and columns, the parser's UTF-8 byte offsets and PostgreSQL's code-point positions to UTF-16
 * indexes. Pure: no database, no threads.
 */
import test from '../helpers/limited-test.ts';
import {
  charIndexOfByte,
  indexOfCharPosition,
  lineColumnAt,
} from '../../packages/core/src/files/source-position.ts';

test('lineColumnAt: the first line, its end, and the end of a file with no final line break', (t) => {
  t.deepEqual(lineColumnAt('select 1;', 0), { line: 1, column: 1 });
  t.deepEqual(lineColumnAt('select 1;', 7), { line: 1, column: 8 });
  t.deepEqual(lineColumnAt('select 1;', 9), { line: 1, column: 10 });
  t.deepEqual(lineColumnAt('', 0), { line: 1, column: 1 });
});

test('lineColumnAt: a line break belongs to the line it ends; the next character starts the next line', (t) => {
  const text = 'ab\ncd\n\nef';
  t.deepEqual(lineColumnAt(text, 2), { line: 1, column: 3 });
  t.deepEqual(lineColumnAt(text, 3), { line: 2, column: 1 });
  t.deepEqual(lineColumnAt(text, 5), { line: 2, column: 3 });
  t.deepEqual(lineColumnAt(text, 6), { line: 3, column: 1 });
  t.deepEqual(lineColumnAt(text, 7), { line: 4, column: 1 });
  t.deepEqual(lineColumnAt(text, 8), { line: 4, column: 2 });
  t.deepEqual(lineColumnAt(text, text.length), { line: 4, column: 3 });
});

test('lineColumnAt: with CRLF, the carriage return is a column of its line and does not start one', (t) => {
  const text = 'ab\r\ncd\r\n';
  t.deepEqual(lineColumnAt(text, 2), { line: 1, column: 3 });
  t.deepEqual(lineColumnAt(text, 3), { line: 1, column: 4 });
  t.deepEqual(lineColumnAt(text, 4), { line: 2, column: 1 });
  t.deepEqual(lineColumnAt(text, 7), { line: 2, column: 4 });
  t.deepEqual(lineColumnAt(text, 8), { line: 3, column: 1 });
  // A lone carriage return (old Mac line ends) is not a line break.
  t.deepEqual(lineColumnAt('ab\rcd', 4), { line: 1, column: 5 });
});

test('lineColumnAt: columns count UTF-16 units, so an emoji takes two and é one', (t) => {
  t.deepEqual(lineColumnAt('é = x', 4), { line: 1, column: 5 });
  t.deepEqual(lineColumnAt('😀 = x', 5), { line: 1, column: 6 });
  t.deepEqual(lineColumnAt('-- 😀\nx', 6), { line: 2, column: 1 });
});

test('charIndexOfByte: ASCII bytes are characters', (t) => {
  t.is(charIndexOfByte('select 1;\r\nselect 2;', 0), 0);
  t.is(charIndexOfByte('select 1;\r\nselect 2;', 11), 11);
  t.is(charIndexOfByte('select 1;', 9), 9);
});

test('charIndexOfByte: multi-byte UTF-8 characters before the offset count once (twice for an emoji)', (t) => {
  // é is 2 bytes and 1 UTF-16 unit; € 3 bytes and 1; 😀 4 bytes and 2.
  t.is(charIndexOfByte('é;x', 2), 1);
  t.is(charIndexOfByte('é;x', 3), 2);
  t.is(charIndexOfByte('€x', 3), 1);
  t.is(charIndexOfByte('😀x', 4), 2);
  t.is(charIndexOfByte("select 'é😀';\nselect 2;", Buffer.byteLength("select 'é😀';\n")), 14);
  const text = "insert into t values ('café', '😀');\nselect 1;";
  const byte = Buffer.byteLength(text.slice(0, text.indexOf('select')));
  t.is(charIndexOfByte(text, byte), text.indexOf('select'));
});

test('charIndexOfByte: an offset at or past the end is the text length', (t) => {
  t.is(charIndexOfByte('é😀', 6), 3);
  t.is(charIndexOfByte('é😀', 100), 3);
  t.is(charIndexOfByte('', 0), 0);
});

test('a parser byte offset through charIndexOfByte and lineColumnAt lands on its character', (t) => {
  const text = "-- migrate:up\r\ncreate table é (x text default '😀');\r\nselect bad;\r\n";
  const at = charIndexOfByte(text, Buffer.byteLength(text.slice(0, text.indexOf('bad'))));
  t.is(text.slice(at, at + 3), 'bad');
  t.deepEqual(lineColumnAt(text, at), { line: 3, column: 8 });
});

test('indexOfCharPosition: positions count code points from 1; outside the BMP they differ from indexes', (t) => {
  t.is(indexOfCharPosition('select x', 1), 0);
  t.is(indexOfCharPosition('select x', 8), 7);
  t.is(indexOfCharPosition('éx', 2), 1);
  t.is(indexOfCharPosition('😀x', 2), 2);
  t.is(indexOfCharPosition('a😀😀b', 4), 5);
  const text = "select '😀', '😀', nope";
  t.is(indexOfCharPosition(text, [...text].indexOf('n') + 1), text.indexOf('nope'));
});

test('indexOfCharPosition: CRLF counts two characters; a lone surrogate counts one', (t) => {
  t.is(indexOfCharPosition('a\r\nb', 4), 3);
  t.is(indexOfCharPosition('\uD83Dx', 2), 1);
  t.is(indexOfCharPosition('\uDE00x', 2), 1);
});

test('indexOfCharPosition: a position before the first character is 0, past the last the text length', (t) => {
  t.is(indexOfCharPosition('abc', 0), 0);
  t.is(indexOfCharPosition('abc', -5), 0);
  t.is(indexOfCharPosition('abc', 4), 3);
  t.is(indexOfCharPosition('a😀', 99), 3);
  t.is(indexOfCharPosition('', 1), 0);
});
