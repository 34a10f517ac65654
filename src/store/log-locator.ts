/**
 * Finding a conversation's log (open, active or archived) and places in a log without
 * reading it all: its header, where the record with a `seq` starts, the last record of a
 * type, the name it ends with, and line numbers for messages. Reads use `scanBackward`, so
 * they touch only the tail of a long log.
 */
import { CorruptLogError, SessionNotFoundError } from '../errors.js';
import { assertConversationId } from '../protocol/ids.js';
import type { LogRecord, SessionMetaPayload } from '../protocol/records.js';
import { READ_FLAGS, type FileSystem } from './fs.js';
import { parseLine } from './log-reader.js';
import type { StorePaths } from './paths.js';
import { peekRecord, scanBackward } from './reverse.js';
import { latestName } from './summary.js';

/** A log's file name, `<id>.jsonl`; the id is group 1. */
export const LOG_FILE = /^([0-7][0-9A-HJKMNP-TV-Z]{25})\.jsonl$/;
/** Bytes read first for a log's header (grown ×4 while its first line is longer). */
const HEAD_BYTES = 4 * 1024;

/** Where a conversation's log is. */
export interface LogLocation {
  readonly path: string;
  readonly archived: boolean;
}

/** Length of a UTF-8 byte-order mark at the start of `bytes` (3), or 0. */
export function bomLength(bytes: Uint8Array): number {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

/** Finds conversations' logs: an open one where it is open, else the active then the archived path. */
export class LogLocator {
  readonly #fs: FileSystem;
  readonly #paths: StorePaths;
  readonly #open: ReadonlyMap<string, LogLocation>;
  readonly #store: string;

  /**
   * @param open the logs open for appending, by id (read live, as they open, close and move).
   * @param store the store's description, for `SessionNotFoundError`.
   */
  constructor(fs: FileSystem, paths: StorePaths, open: ReadonlyMap<string, LogLocation>, store: string) {
    this.#fs = fs;
    this.#paths = paths;
    this.#open = open;
    this.#store = store;
  }

  /**
   * Where the log of `raw` is.
   * @throws {InvalidOpError} when `raw` is not a conversation id.
   * @throws {SessionNotFoundError} when it has no log.
   */
  async locate(raw: string): Promise<LogLocation> {
    const id = assertConversationId(raw);
    const open = this.#open.get(id);
    if (open) return { path: open.path, archived: open.archived };
    const active = this.#paths.log(id, false);
    if (await this.#fs.exists(active)) return { path: active, archived: false };
    const archived = this.#paths.log(id, true);
    if (await this.#fs.exists(archived)) return { path: archived, archived: true };
    throw new SessionNotFoundError(id, this.#store);
  }
}

/**
 * The first line of the log at `path`, parsed: its `session_meta` record.
 * @throws {CorruptLogError} (line 1) when it holds no complete record, the first is not a
 *   valid `session_meta`, or it names another conversation than the file's name.
 */
export async function readHead(fs: FileSystem, path: string): Promise<LogRecord> {
  const fd = await fs.open(path, READ_FLAGS);
  try {
    let size = HEAD_BYTES;
    while (true) {
      const buffer = Buffer.allocUnsafe(size);
      const n = await fs.read(fd, buffer, 0, size, 0);
      const startAt = bomLength(buffer.subarray(0, n));
      const nl = buffer.subarray(0, n).indexOf(0x0a);
      if (nl === -1) {
        if (n < size) throw new CorruptLogError(path, 1, 'the log holds no complete record');
        size *= 4;
        continue;
      }
      const parsed = parseLine(buffer.subarray(startAt, nl));
      if ('reason' in parsed) throw new CorruptLogError(path, 1, parsed.reason);
      if (parsed.record.type !== 'session_meta') throw new CorruptLogError(path, 1, 'the first record is not session_meta');
      const id = /([0-9A-HJKMNP-TV-Z]{26})\.jsonl$/.exec(path)?.[1];
      if (id !== undefined && parsed.record.payload.id !== id) {
        throw new CorruptLogError(path, 1, 'its header names another conversation than its file');
      }
      return parsed.record;
    }
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

/**
 * Whether the log at `path` never got its header: it is empty, or holds no complete line (its
 * first write was cut short). Such a log is no conversation: a crash while it was created.
 * `false` when it does not exist.
 */
export async function headerless(fs: FileSystem, path: string): Promise<boolean> {
  let fd: number;
  try {
    fd = await fs.open(path, READ_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') return false;
    throw err;
  }
  try {
    const buffer = Buffer.allocUnsafe(HEAD_BYTES);
    for (let position = 0; ; ) {
      const n = await fs.read(fd, buffer, 0, buffer.length, position);
      if (n === 0) return true;
      if (buffer.subarray(0, n).includes(0x0a)) return false;
      position += n;
    }
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

/**
 * Where the record with `seq` starts (byte offset) and the `seq` found there, read backwards
 * from the end; `null` when the log's records start after it (read it from its start then).
 */
export async function offsetOfSeq(fs: FileSystem, path: string, seq: number): Promise<{ offset: number; seq: number } | null> {
  const fd = await fs.open(path, READ_FLAGS);
  try {
    const size = await fs.fstatSize(fd);
    let found: { offset: number; seq: number } | null = null;
    await scanBackward(fs, fd, size, (line, offset) => {
      const peek = peekRecord(line);
      if (!peek || peek.seq > seq) return false;
      // The first line at or before `seq` (a gap is reported by the forward read that follows).
      if (offset > 0) found = { offset, seq: peek.seq };
      return true;
    });
    return found;
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

/** The last valid record of `type` at or before `upToSeq` in the log at `path`, or `null`. */
export async function lastRecordIn(fs: FileSystem, path: string, type: LogRecord['type'], upToSeq: number): Promise<LogRecord | null> {
  const fd = await fs.open(path, READ_FLAGS);
  try {
    const size = await fs.fstatSize(fd);
    let found: LogRecord | null = null;
    await scanBackward(fs, fd, size, (line) => {
      const peek = peekRecord(line);
      if (!peek || peek.type !== type || peek.seq > upToSeq) return false;
      const parsed = parseLine(line);
      if ('reason' in parsed) return false;
      found = parsed.record;
      return true;
    });
    return found;
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

/** The name the log at `path` ends with: its last rename, or the name `meta` created it with. */
export async function lastNameIn(fs: FileSystem, path: string, meta: SessionMetaPayload): Promise<string | undefined> {
  const fd = await fs.open(path, READ_FLAGS);
  try {
    const size = await fs.fstatSize(fd);
    let name: string | undefined;
    const found = await scanBackward(fs, fd, size, (line) => {
      const peek = peekRecord(line);
      if (!peek || (peek.type !== 'event' && peek.type !== 'compacted')) return false;
      const parsed = parseLine(line);
      if ('reason' in parsed) return false;
      name = latestName([parsed.record]);
      return name !== undefined;
    });
    return found ? name : meta.name;
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

/** Number of newlines in the first `bytes` of the file at `path` (a line number for messages). */
export async function countLines(fs: FileSystem, path: string, bytes: number): Promise<number> {
  const fd = await fs.open(path, READ_FLAGS);
  try {
    const buffer = Buffer.allocUnsafe(256 * 1024);
    let count = 0;
    for (let pos = 0; pos < bytes; ) {
      const n = await fs.read(fd, buffer, 0, Math.min(buffer.length, bytes - pos), pos);
      if (n === 0) break;
      for (let i = 0; i < n; i++) if (buffer[i] === 0x0a) count++;
      pos += n;
    }
    return count;
  } finally {
    await fs.close(fd).catch(() => {});
  }
}
