/**
 * The tail check before appending to an existing log: the last record's `seq`, and the repair
 * of a torn last line (a crash mid-write), whose bytes are moved to the `<log>.torn` side
 * file (appended, fdatasynced) and cut off the log, which is fdatasynced, before any append.
 *
 * Appends continue from the last record in sequence, as a lenient read finds it (see
 * `readLog`): when the last line's `seq` is not the one before the first record to append
 * (a stray record at the end, or a last line that is not a record in lenient mode), the log
 * is read through once to find it, so a record out of place never wedges the writer.
 */
import { CorruptLogError } from '../errors.js';
import { SIDE_FILE_FLAGS, type FileSystem } from './fs.js';
import { bomLength, countLines } from './log-locator.js';
import { parseLine, readLog } from './log-reader.js';
import { FILE_MODE } from './paths.js';
import type { LogIssue, ReadMode } from './store.js';

/** Bytes of the end of a log read first (grown ×4 while its last line is longer). */
const TAIL_BYTES = 64 * 1024;

/** What the writer expects of a log's tail. */
export interface TailExpectation {
  /** The `seq` of the first record about to be appended: a last line right before it needs no further look. */
  readonly nextSeq?: number;
  /** The store's read mode: in `strict`, a last complete line that is not a record fails the check. Default `strict`. */
  readonly mode?: ReadMode;
}

/**
 * The `seq` after the last record in sequence of the log at `path`, read through in lenient
 * mode (without reporting: the reads of the log report what they find).
 * @throws {CorruptLogError} when the log holds no record.
 */
async function nextSeqInSequence(fs: FileSystem, path: string): Promise<number> {
  let last: number | null = null;
  for await (const record of readLog(fs, path, { mode: 'lenient' })) last = record.seq;
  if (last === null) throw new CorruptLogError(path, 1, 'the log holds no valid record');
  return last + 1;
}

/**
 * Before appending to the log at `path` (open as `fd`, with read access): find the `seq` the
 * next record must have, and if the log ends in a torn line, move those bytes to the `.torn`
 * side file, cut them off and report it (`torn_tail`). The last line's `seq` + 1 when it is
 * `expect.nextSeq`; otherwise the one after the last record in sequence (a lenient read's).
 * Resolves with the log's size (bytes) after any cut and that `seq`.
 * @throws {CorruptLogError} when nothing is left but a torn line, or (strict mode) when the last
 *   complete line is not a record.
 */
export async function checkTail(
  fs: FileSystem,
  fd: number,
  path: string,
  report: (issue: LogIssue) => void,
  expect: TailExpectation = {},
): Promise<{ size: number; nextSeq: number }> {
  let size = await fs.fstatSize(fd);
  let window = Math.min(size, TAIL_BYTES);
  while (true) {
    const buffer = Buffer.allocUnsafe(window);
    const n = await fs.read(fd, buffer, 0, window, size - window);
    const tail = buffer.subarray(0, n);
    const lastNl = tail.lastIndexOf(0x0a);
    if (lastNl === -1 && window < size) {
      window = Math.min(size, window * 4);
      continue;
    }
    if (lastNl !== tail.length - 1) {
      // Torn: keep the partial line aside, then cut it off.
      const torn = tail.subarray(lastNl + 1);
      const tornPath = `${path}.torn`;
      const sideFd = await fs.open(tornPath, SIDE_FILE_FLAGS, FILE_MODE);
      try {
        await fs.writeAll(sideFd, torn);
        await fs.fdatasync(sideFd);
      } finally {
        await fs.close(sideFd).catch(() => {});
      }
      const kept = size - torn.length;
      await fs.ftruncate(fd, kept);
      await fs.fdatasync(fd);
      const line = await countLines(fs, path, kept);
      report({ kind: 'torn_tail', location: path, line: line + 1, detail: `${torn.length} bytes moved to ${tornPath}` });
      size = kept;
      window = Math.min(size, TAIL_BYTES);
      if (lastNl === -1) throw new CorruptLogError(path, 1, 'the log holds no complete record');
      continue;
    }
    // The last complete line ends at the last byte; find its start.
    const prevNl = tail.lastIndexOf(0x0a, lastNl - 1);
    if (prevNl === -1 && window < size) {
      window = Math.min(size, window * 4);
      continue;
    }
    // A first line (the window then starts at the file's start) may begin with a BOM.
    const lineStart = prevNl === -1 ? bomLength(tail) : prevNl + 1;
    const parsed = parseLine(tail.subarray(lineStart, lastNl));
    if ('reason' in parsed) {
      if ((expect.mode ?? 'strict') === 'lenient') return { size, nextSeq: await nextSeqInSequence(fs, path) };
      const line = await countLines(fs, path, size);
      throw new CorruptLogError(path, line, parsed.reason);
    }
    const nextSeq = parsed.record.seq + 1;
    if (expect.nextSeq === undefined || expect.nextSeq === nextSeq) return { size, nextSeq };
    // The last line is not where the writer expects to continue: find the last record in sequence.
    return { size, nextSeq: await nextSeqInSequence(fs, path) };
  }
}
