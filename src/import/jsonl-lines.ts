/**
 * Streaming line reader for foreign JSONL files (imports): reads fixed-size chunks and yields
 * one line at a time, so memory is one chunk plus the longest line, whatever the file size.
 */
import { createReadStream } from 'node:fs';

/** Bytes read per chunk. */
export const LINE_CHUNK_BYTES = 256 * 1024;

/** One line of a file. */
export interface TextLine {
  /** 1-based line number (blank lines count). */
  readonly number: number;
  /** The line without its `\n` (and without a `\r` before it). */
  readonly text: string;
  /** False only for a last line with no newline after it (possibly torn by a crash mid-write). */
  readonly terminated: boolean;
}

/**
 * The lines of the file at `path`, in order. A UTF-8 byte-order mark at the start is kept in
 * the first line's text (the caller decides whether to report it).
 * @throws the file-system error when the file cannot be opened or read (e.g. `ENOENT`).
 */
export async function* readLines(path: string, chunkBytes = LINE_CHUNK_BYTES): AsyncGenerator<TextLine> {
  const stream = createReadStream(path, { highWaterMark: chunkBytes });
  let pending: Buffer = Buffer.alloc(0);
  let number = 0;
  const decode = (bytes: Buffer): string => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    return bytes.toString('utf8', 0, end);
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let data = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
      let start = 0;
      let nl = data.indexOf(0x0a, start);
      while (nl !== -1) {
        number++;
        yield { number, text: decode(data.subarray(start, nl)), terminated: true };
        start = nl + 1;
        nl = data.indexOf(0x0a, start);
      }
      // Copy the partial line so the chunk it came from can be freed.
      data = data.subarray(start);
      pending = Buffer.from(data);
    }
    if (pending.length > 0) {
      number++;
      yield { number, text: decode(pending), terminated: false };
    }
  } finally {
    stream.destroy();
  }
}
