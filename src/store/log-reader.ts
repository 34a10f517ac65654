/**
 * Streaming reader of a JSONL conversation log: reads fixed-size chunks, splits lines,
 * validates every record and its `seq`, and reports whatever is not a clean record.
 * Memory is one chunk plus one line, whatever the file size (Codex reads whole rollouts
 * into memory).
 *
 * - A UTF-8 byte-order mark is skipped and reported.
 * - A last line without its newline is a torn write (a crash mid-append): reported, not
 *   returned; the writer truncates it before appending (see `FileStore`).
 * - Any other bad line fails the read with a `CorruptLogError` naming file and line
 *   (`strict`), or is skipped and reported (`lenient`).
 * - `seq` must start at the log's base and increase by one; gaps and duplicates are bad lines.
 *   In lenient mode a duplicate is skipped; a record that skips ahead is kept when it looks
 *   like a hole (the lines skipped since the last record kept could have held the records
 *   missing, or the next record continues from it), and is otherwise skipped as out of place
 *   (the log goes on from the `seq` expected before it, or ends there): one stray record can
 *   neither hide the records after it nor move where appends continue (the writer's tail
 *   check follows the same reading, see `log-tail.ts`).
 */
import type * as z from 'zod/mini';
import { CorruptLogError, formatPath } from '../errors.js';
import { LogRecordSchema, type LogRecord } from '../protocol/records.js';
import { describeIssue, fast } from '../protocol/validate.js';
import type { FileSystem } from './fs.js';
import { READ_FLAGS } from './fs.js';
import type { LogIssue, ReadOptions } from '../log/types.js';

/** Bytes read per chunk. */
export const CHUNK_BYTES = 256 * 1024;

const NEWLINE = 0x0a;

/**
 * One schema issue in words that never quote the line: the shared wording names an
 * unexpected discriminator value and unknown keys, which are the line's content (and may be
 * secrets), so those two are described without them.
 */
function describeWithoutContent(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'unrecognized_keys') return issue.keys.length > 1 ? 'unknown fields' : 'unknown field';
  const union = issue as z.core.$ZodIssue & { discriminator?: string; options?: unknown[] };
  if (issue.code === 'invalid_union' && union.discriminator !== undefined) {
    const known = (union.options ?? []).map((o) => JSON.stringify(o)).join(', ');
    return `unexpected value (expected one of ${known})`;
  }
  return describeIssue(issue, value);
}

/** The value as a record, or why it is not one (naming the field, never quoting content). */
export function checkRecord(value: unknown): { record: LogRecord } | { reason: string } {
  const result = fast(LogRecordSchema).safeParse(value);
  if (result.success) return { record: result.data };
  const issue = result.error.issues[0];
  return { reason: issue ? `${formatPath(issue.path)}: ${describeWithoutContent(issue, value)}` : 'not a log record' };
}

// ignoreBOM: a byte-order mark is not silently dropped from a line (only the file's first may carry one).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parse one line (its bytes, without the newline) into a record, or say why it is not one (no
 * line content in the reason). Bytes that are not valid UTF-8 are an error, not replaced.
 */
export function parseLine(line: Uint8Array): { record: LogRecord } | { reason: string } {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { reason: 'not valid UTF-8' };
  }
  return parseText(text);
}

/** Parse one line's text (without the newline) into a record, or say why it is not one (no line content in the reason). */
export function parseText(text: string): { record: LogRecord } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'not valid JSON' };
  }
  return checkRecord(value);
}

/** Something wrong with a record at its place in a log: its kind, words that never quote it, and whether a lenient read skips it. */
export interface RecordProblem {
  readonly kind: 'bad_header' | 'bad_line' | 'seq_gap' | 'seq_duplicate';
  readonly reason: string;
  readonly skip: boolean;
}

/**
 * The checks of every record at its place in a log, shared by the stores' readers: the first
 * record of a log must be a `session_meta` naming the log's conversation, and `seq` must
 * start at the log's base and increase by one.
 */
export class RecordChecks {
  readonly #expectId: string | undefined;
  #expected: number | undefined;

  /**
   * @param expectId the conversation the log belongs to (its header must name it), if known.
   * @param firstSeq the `seq` the first record read must have; the first one read sets it when absent.
   */
  constructor(expectId: string | undefined, firstSeq: number | undefined) {
    this.#expectId = expectId;
    this.#expected = firstSeq;
  }

  /**
   * The problems of the next record read (none when it is clean), in the order a strict read
   * fails on them; `first` when it is the log's first record. Advances past it unless it is skipped.
   */
  check(record: LogRecord, first: boolean): RecordProblem[] {
    const problems = first ? this.header(record) : [];
    const expected = this.#expected ?? record.seq;
    if (record.seq !== expected) {
      const duplicate = record.seq < expected;
      const reason = duplicate ? `seq ${record.seq} repeats (expected ${expected})` : `seq ${record.seq} skips ahead (expected ${expected})`;
      problems.push({ kind: duplicate ? 'seq_duplicate' : 'seq_gap', reason, skip: duplicate });
      if (duplicate) return problems;
    }
    this.#expected = record.seq + 1;
    return problems;
  }

  /** The problems of a log's first record: it must be a `session_meta` naming the log's conversation. */
  header(record: LogRecord): RecordProblem[] {
    const problems: RecordProblem[] = [];
    if (record.type === 'session_meta' && this.#expectId !== undefined && record.payload.id !== this.#expectId) {
      problems.push({ kind: 'bad_header', reason: 'its header names another conversation than its file', skip: false });
    }
    if (record.type !== 'session_meta') problems.push({ kind: 'bad_line', reason: 'the first record is not session_meta', skip: false });
    return problems;
  }

  /** A bad line known (by a store that keeps `seq` beside it) to have held `seq`: the next record continues after it. */
  skipped(seq: number): void {
    this.#expected = seq + 1;
  }
}

/** Options of `readLog`: a `Store` read's options plus where to start and what the log must hold. */
export interface LogReadOptions extends ReadOptions {
  /** The `seq` the first record must have (0, or a fork's base). Read from the first record when absent. */
  readonly firstSeq?: number;
  /** Start reading at this byte offset (the start of a line) instead of the file's start. */
  readonly startOffset?: number;
  /** How many lines come before `startOffset` (for line numbers in errors); counted only when needed. */
  readonly linesBefore?: () => Promise<number>;
  /** The conversation the log must belong to: its header must name it. */
  readonly expectId?: string;
}

/** Why a record that skipped ahead is skipped: nothing continued from it. */
function outOfPlace(seq: number, expected: number): string {
  return `seq ${seq} skips ahead (expected ${expected}) and no record continues from it: skipped`;
}

/**
 * Stream the records of the log at `path`.
 * @throws {CorruptLogError} in strict mode, at the first bad line (not for a torn last line).
 */
export async function* readLog(fs: FileSystem, path: string, options: LogReadOptions = {}): AsyncGenerator<LogRecord> {
  const strict = (options.mode ?? 'strict') === 'strict';
  const upTo = options.upToSeq ?? Infinity;
  const about = options.expectId !== undefined ? { conversationId: options.expectId } : {};
  const report = (issue: Omit<LogIssue, 'location'>): void => options.onIssue?.({ ...issue, location: path, ...about });
  const fd = await fs.open(path, READ_FLAGS);
  try {
    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let start = 0; // start of the unconsumed bytes in `buffer`
    let end = 0; // end of valid bytes in `buffer`
    const startOffset = options.startOffset ?? 0;
    let position = startOffset; // file offset of the next read
    let lineNo = 0; // lines read so far (relative to `startOffset`)
    let expected = options.firstSeq;
    let eof = false;
    let first = startOffset === 0;
    /** A record that skipped ahead of `expected` (lenient mode), held until the next record tells whether it is kept. */
    let ahead: { record: LogRecord; line: number } | null = null;
    /** Lines skipped (not records, or duplicates) since the last record kept: records a hole after them may have lost. */
    let lost = 0;
    // An absolute 1-based line number, for messages.
    const absolute = async (relative: number): Promise<number> =>
      startOffset === 0 ? relative : relative + (options.linesBefore ? await options.linesBefore() : 0);
    while (true) {
      // Find the next complete line in the buffer.
      const nl = buffer.indexOf(NEWLINE, start);
      if (nl === -1 || nl >= end) {
        if (eof) {
          // A record that skipped ahead and is last: nothing continues from it, so it is out of place.
          if (ahead !== null && expected !== undefined) report({ kind: 'seq_gap', line: ahead.line, detail: outOfPlace(ahead.record.seq, expected) });
          if (end > start) {
            report({ kind: 'torn_tail', line: await absolute(lineNo + 1), detail: `${end - start} bytes after the last newline` });
          }
          return;
        }
        // Move the partial line to the front, grow if one line fills the buffer, then read more.
        if (start > 0) {
          buffer.copy(buffer, 0, start, end);
          end -= start;
          start = 0;
        }
        if (end === buffer.length) {
          const bigger = Buffer.allocUnsafe(buffer.length * 2);
          buffer.copy(bigger, 0, 0, end);
          buffer = bigger;
        }
        const n = await fs.read(fd, buffer, end, buffer.length - end, position);
        if (n === 0) eof = true;
        position += n;
        end += n;
        continue;
      }
      lineNo++;
      let lineStart = start;
      start = nl + 1;
      if (first) {
        first = false;
        if (buffer[lineStart] === 0xef && buffer[lineStart + 1] === 0xbb && buffer[lineStart + 2] === 0xbf) {
          report({ kind: 'bom', line: 1, detail: 'UTF-8 byte-order mark skipped' });
          lineStart += 3;
        }
      }
      const parsed = parseLine(buffer.subarray(lineStart, nl));
      if ('reason' in parsed) {
        if (strict) throw new CorruptLogError(path, await absolute(lineNo), parsed.reason);
        report({ kind: 'bad_line', line: await absolute(lineNo), detail: parsed.reason });
        lost++;
        continue;
      }
      const record = parsed.record;
      if (lineNo === 1 && startOffset === 0) {
        for (const problem of new RecordChecks(options.expectId, undefined).header(record)) {
          if (strict) throw new CorruptLogError(path, 1, problem.reason);
          report({ kind: problem.kind, line: 1, detail: problem.reason });
        }
      }
      if (expected === undefined) expected = record.seq;
      if (ahead !== null) {
        // The record after one that skipped ahead decides it: kept if this one continues from it.
        const held = ahead;
        ahead = null;
        if (record.seq === held.record.seq + 1) {
          report({ kind: 'seq_gap', line: held.line, detail: `seq ${held.record.seq} skips ahead (expected ${expected})` });
          expected = held.record.seq + 1;
          lost = 0;
          if (held.record.seq > upTo) return;
          yield held.record;
          if (held.record.seq === upTo) return;
        } else {
          report({ kind: 'seq_gap', line: held.line, detail: outOfPlace(held.record.seq, expected) });
        }
      }
      if (record.seq !== expected) {
        const duplicate = record.seq < expected;
        const reason = duplicate
          ? `seq ${record.seq} repeats (expected ${expected})`
          : `seq ${record.seq} skips ahead (expected ${expected})`;
        if (strict) throw new CorruptLogError(path, await absolute(lineNo), reason);
        if (duplicate) {
          report({ kind: 'seq_duplicate', line: await absolute(lineNo), detail: reason });
          lost++;
          continue;
        }
        if (record.seq - expected > lost) {
          // More records missing than lines skipped since the last one kept: wait for the next record.
          ahead = { record, line: await absolute(lineNo) };
          continue;
        }
        // The lines skipped since the last record kept held the missing records: a hole.
        report({ kind: 'seq_gap', line: await absolute(lineNo), detail: reason });
      }
      lost = 0;
      expected = record.seq + 1;
      if (record.seq > upTo) return;
      yield record;
      // Stop right after it: what follows (even a bad or torn line) is not this read's concern.
      if (record.seq === upTo) return;
    }
  } finally {
    await fs.close(fd).catch(() => {});
  }
}
