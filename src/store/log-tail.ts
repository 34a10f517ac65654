/**
 * The tail check before appending to an existing log: the last record's `seq`, and the repair
 * of a torn last line (a crash mid-write), whose bytes are moved to the `<log>.torn` side
 * file (appended, fdatasynced) and cut off the log, which is fdatasynced, before any append.
 */
import { CorruptLogError } from '../errors.js';
import { SIDE_FILE_FLAGS, type FileSystem } from './fs.js';
import { bomLength, countLines } from './log-locator.js';
import { parseLine } from './log-reader.js';
import { FILE_MODE } from './paths.js';
import type { LogIssue } from './store.js';

/** Bytes of the end of a log read first (grown ×4 while its last line is longer). */
const TAIL_BYTES = 64 * 1024;

/**
 * Before appending to the log at `path` (open as `fd`, with read access): find the last
 * record's `seq`, and if the log ends in a torn line, move those bytes to the `.torn` side
 * file, cut them off and report it (`torn_tail`). Resolves with the log's size (bytes) after
 * any cut and the `seq` the next record must have.
 * @throws {CorruptLogError} when the last complete line is not a record, or nothing is left
 *   but a torn line.
 */
export async function checkTail(
  fs: FileSystem,
  fd: number,
  path: string,
  report: (issue: LogIssue) => void,
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
      const line = await countLines(fs, path, size);
      throw new CorruptLogError(path, line, parsed.reason);
    }
    return { size, nextSeq: parsed.record.seq + 1 };
  }
}
