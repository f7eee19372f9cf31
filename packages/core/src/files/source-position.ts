/** Mapping character offsets in a file to 1-based lines and columns. */

/** The 1-based line and column of character `offset` in `text`. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (
    let index = text.indexOf('\n');
    index !== -1 && index < offset;
    index = text.indexOf('\n', index + 1)
  ) {
    line += 1;
    lineStart = index + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * The UTF-16 index in `text` of PostgreSQL's 1-based error `position`, which counts characters
 * (code points): the two differ once a character outside the Basic Multilingual Plane (an emoji)
 * comes before it.
 */
export function indexOfCharPosition(text: string, position: number): number {
  let index = 0;
  for (let counted = 1; counted < position && index < text.length; counted += 1) {
    const code = text.codePointAt(index) ?? 0;
    index += code > 0xffff ? 2 : 1;
  }
  return index;
}

/** The character index in `text` of UTF-8 byte offset `byteOffset` (the parser counts bytes). */
export function charIndexOfByte(text: string, byteOffset: number): number {
  return Buffer.from(text, 'utf8').subarray(0, byteOffset).toString('utf8').length;
}
