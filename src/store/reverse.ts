/**
 * Reading a log backwards: complete lines from the end of the file towards its start, in
 * fixed-size chunks, so finding the last checkpoint of a huge log reads only its tail (Codex
 * reads whole rollouts forwards to find theirs). Bytes after the last newline (a torn last
 * line) are not a line and are skipped.
 */
import type { FileSystem } from './fs.js';

/** Bytes read per step. */
export const REVERSE_CHUNK_BYTES = 64 * 1024;

/** What a visitor sees: a line (without its newline) and the file offset of its first byte. */
export type LineVisitor = (line: Buffer, offset: number) => boolean | void;

/**
 * Visit the complete lines of the first `size` bytes of `fd`, last first. Stops when the
 * visitor returns true. Resolves with whether it was stopped.
 */
export async function scanBackward(fs: FileSystem, fd: number, size: number, visit: LineVisitor): Promise<boolean> {
  // Find the end of the last complete line.
  let pos = size;
  let end = -1;
  let tail: Buffer = Buffer.alloc(0);
  while (pos > 0 && end === -1) {
    const n = Math.min(REVERSE_CHUNK_BYTES, pos);
    pos -= n;
    const chunk = Buffer.allocUnsafe(n);
    await readFully(fs, fd, chunk, pos);
    const nl = chunk.lastIndexOf(0x0a);
    if (nl !== -1) {
      end = pos + nl;
      tail = chunk.subarray(0, nl);
    }
  }
  if (end === -1) return false;
  // `carry` holds the bytes from `pos` up to the end of the earliest line not yet visited.
  let carry: Buffer = tail;
  while (true) {
    let stop = carry.length;
    for (let nl = carry.lastIndexOf(0x0a, stop - 1); nl !== -1; nl = stop > 0 ? carry.lastIndexOf(0x0a, stop - 1) : -1) {
      if (visit(carry.subarray(nl + 1, stop), pos + nl + 1) === true) return true;
      stop = nl;
    }
    carry = carry.subarray(0, stop);
    if (pos === 0) return visit(carry, 0) === true;
    const n = Math.min(REVERSE_CHUNK_BYTES, pos);
    pos -= n;
    const chunk = Buffer.allocUnsafe(n);
    await readFully(fs, fd, chunk, pos);
    carry = Buffer.concat([chunk, carry]);
  }
}

async function readFully(fs: FileSystem, fd: number, buffer: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buffer.length; ) {
    const n = await fs.read(fd, buffer, done, buffer.length - done, position + done);
    if (n === 0) throw new Error(`unexpected end of file at ${position + done}`);
    done += n;
  }
}

const SEQ = /^\{"ts":"[^"]*","seq":(\d+),"type":"([a-z_]+)"/;

/**
 * The `seq` and `type` of a line as Colloquy writes it (`{"ts":…,"seq":N,"type":"…",…`),
 * read from its first bytes without parsing the rest; null for another shape.
 */
export function peekRecord(line: Buffer): { seq: number; type: string } | null {
  const m = SEQ.exec(line.toString('latin1', 0, Math.min(line.length, 96)));
  return m ? { seq: Number(m[1]), type: m[2] as string } : null;
}
