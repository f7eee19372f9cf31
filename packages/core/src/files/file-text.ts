/**
 * A migration file's bytes as text, exactly or not at all: invalid UTF-8 is refused rather than
 * decoded to U+FFFD, and a NUL byte in SQL is refused rather than passed to PostgreSQL's parser,
 * which stops reading there and silently drops the rest of the file. A UTF-8 byte order mark at
 * the start is accepted and left out of the text (the checksum covers the bytes, BOM included).
 */
import {
  invalidUtf8Message,
  MigrationFileUnreadableError,
  nulByteMessage,
} from '../errors/index.ts';

/** Fatal: throws at the first ill-formed sequence instead of replacing it. Strips a leading BOM. */
const DECODER = new TextDecoder('utf-8', { fatal: true });

const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * The text of migration file `file` from its `bytes`, without a leading BOM. Throws
 * {@link MigrationFileUnreadableError} with the offending byte's offset, line and column for
 * invalid UTF-8, and, when `refuseNul` (SQL files), for a NUL byte.
 */
export function decodeMigrationText(file: string, bytes: Uint8Array, refuseNul: boolean): string {
  const nul = refuseNul ? bytes.indexOf(0) : -1;
  let text: string | null = null;
  let invalid = -1;
  try {
    text = DECODER.decode(bytes);
  } catch {
    invalid = firstInvalidUtf8(bytes);
  }
  // Report whichever comes first; a NUL byte is valid UTF-8, so both may be present.
  if (nul !== -1 && (invalid === -1 || nul < invalid)) {
    const { line, column } = bytePosition(bytes, nul);
    throw new MigrationFileUnreadableError(nulByteMessage(`${file}:${line}:${column}`, nul), {
      file,
      reason: 'nul-byte',
      byteOffset: nul,
      line,
      column,
    });
  }
  if (text === null) {
    const offset = invalid === -1 ? null : invalid;
    const position = offset === null ? null : bytePosition(bytes, offset);
    const where = position === null ? '' : `:${position.line}:${position.column}`;
    const hex = (bytes[offset ?? 0] ?? 0).toString(16).padStart(2, '0');
    const at = offset === null ? '' : ` at byte offset ${offset} (0x${hex})`;
    throw new MigrationFileUnreadableError(invalidUtf8Message(`${file}${where}`, at), {
      file,
      reason: 'invalid-utf8',
      byteOffset: offset,
      line: position?.line ?? null,
      column: position?.column ?? null,
    });
  }
  return text;
}

/**
 * The offset of the first byte that starts an ill-formed UTF-8 sequence (a stray continuation
 * byte, a truncated sequence, an overlong form, a surrogate, a code point above U+10FFFF), or -1.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index] ?? 0;
    if (lead < 0x80) {
      index += 1;
      continue;
    }
    // The range of the second byte depends on the lead (Unicode 15, table 3-7); later ones are 80..BF.
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) low = 0xa0;
      if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) low = 0x90;
      if (lead === 0xf4) high = 0x8f;
    } else return index;
    for (let next = 1; next < length; next += 1) {
      const byte = bytes[index + next];
      if (byte === undefined) return index;
      if (next === 1 ? byte < low || byte > high : byte < 0x80 || byte > 0xbf) return index;
    }
    index += length;
  }
  return -1;
}

/**
 * The 1-based line and column of byte `offset`, counted as the rest of offloop counts them (in
 * the decoded text, UTF-16 units, without the BOM): the bytes before `offset` are valid UTF-8.
 */
function bytePosition(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (
    let index = bytes.indexOf(0x0a);
    index !== -1 && index < offset;
    index = bytes.indexOf(0x0a, index + 1)
  ) {
    line += 1;
    lineStart = index + 1;
  }
  if (lineStart === 0 && BOM.every((byte, index) => bytes[index] === byte) && offset >= BOM.length)
    lineStart = BOM.length;
  const before = Buffer.from(
    bytes.buffer,
    bytes.byteOffset + lineStart,
    Math.max(0, offset - lineStart),
  ).toString('utf8');
  return { line, column: before.length + 1 };
}
