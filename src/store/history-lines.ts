/**
 * Reading the message history's bytes as lines, without reading the whole file: exact reads
 * at a position, the lines from the end backwards in fixed-size chunks (memory: one chunk
 * plus the longest line), and the nearest newline before or after an offset.
 */
import type { FileSystem } from './fs.js';

/** Bytes read per chunk (a copy moves four chunks at a time). */
export const HISTORY_CHUNK_BYTES = 64 * 1024;
/** The line separator byte. */
export const NEWLINE = 0x0a;

/** A line read back, with where it starts (byte offset) and whether its newline was there. */
export interface RawLine {
  readonly offset: number;
  /** The line's text (UTF-8), without its newline. */
  readonly text: string;
  /** Whether a newline ended it: false only for what follows the file's last newline. */
  readonly terminated: boolean;
}

/**
 * Read exactly `length` bytes at file `position` into the start of `buffer` (fewer only at
 * the end of the file). Resolves with the part of `buffer` read. Errors are those of `fs.read`.
 */
export async function readAt(fs: FileSystem, fd: number, buffer: Buffer, length: number, position: number): Promise<Buffer> {
  let got = 0;
  while (got < length) {
    const n = await fs.read(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

/**
 * The lines of the first `size` bytes of a file, last first, read in chunks from the end.
 * The first line yielded is what follows the last newline: `terminated: false`, usually empty.
 */
export async function* linesBackward(fs: FileSystem, fd: number, size: number): AsyncGenerator<RawLine> {
  const buffer = Buffer.allocUnsafe(HISTORY_CHUNK_BYTES);
  let pieces: Buffer[] = []; // the end of a line that starts in an earlier chunk
  let terminated = false;
  for (let pos = size; pos > 0; ) {
    const length = Math.min(HISTORY_CHUNK_BYTES, pos);
    pos -= length;
    const chunk = await readAt(fs, fd, buffer, length, pos);
    let end = chunk.length;
    for (let nl = end > 0 ? chunk.lastIndexOf(NEWLINE, end - 1) : -1; nl !== -1; nl = end > 0 ? chunk.lastIndexOf(NEWLINE, end - 1) : -1) {
      const text = pieces.length === 0 ? chunk.toString('utf8', nl + 1, end) : Buffer.concat([chunk.subarray(nl + 1, end), ...pieces]).toString('utf8');
      yield { offset: pos + nl + 1, text, terminated };
      pieces = [];
      terminated = true;
      end = nl;
    }
    if (end > 0) pieces.unshift(Buffer.from(chunk.subarray(0, end)));
  }
  if (pieces.length > 0) yield { offset: 0, text: Buffer.concat(pieces).toString('utf8'), terminated };
}

/** Byte offset of the first newline in `[from, to)`, or -1. */
export async function findNewline(fs: FileSystem, fd: number, from: number, to: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(HISTORY_CHUNK_BYTES);
  for (let pos = from; pos < to; pos += HISTORY_CHUNK_BYTES) {
    const chunk = await readAt(fs, fd, buffer, Math.min(HISTORY_CHUNK_BYTES, to - pos), pos);
    const i = chunk.indexOf(NEWLINE);
    if (i !== -1) return pos + i;
    if (chunk.length === 0) break;
  }
  return -1;
}

/** Byte offset of the last newline in `[0, to)`, or -1. */
export async function findLastNewline(fs: FileSystem, fd: number, to: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(HISTORY_CHUNK_BYTES);
  for (let end = to; end > 0; end -= HISTORY_CHUNK_BYTES) {
    const start = Math.max(0, end - HISTORY_CHUNK_BYTES);
    const chunk = await readAt(fs, fd, buffer, end - start, start);
    const i = chunk.lastIndexOf(NEWLINE);
    if (i !== -1) return start + i;
  }
  return -1;
}
