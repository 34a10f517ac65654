/**
 * Reading the message history. Reading takes no lock: a reader reads the file it opened (a
 * trim replaces the file, it never changes it), newest line first, in fixed-size chunks from
 * the end, so memory is one chunk plus the longest line, and a read with a limit stops early.
 * A last line without its newline (a crash mid-write, or an append still in progress) is
 * skipped and reported; so are lines that are not entries.
 */
import { ColloquyError, InvalidOpError, StoreError } from '../errors.js';
import { describeError, errnoOf, READ_FLAGS, type FileSystem } from './fs.js';
import { HISTORY_ID, parseHistoryLine, queryIssues } from './history-entries.js';
import type { HistoryIssueListener } from './history-issues.js';
import { linesBackward, type RawLine } from './history-lines.js';
import type { HistoryEntry, HistoryQuery } from './store.js';

/** What a `HistoryReader` reads and what it waits for first. */
export interface HistoryReaderOptions {
  readonly fs: FileSystem;
  /** The history file. */
  readonly path: string;
  /** Where torn and bad lines are reported. */
  readonly onIssue: HistoryIssueListener;
  /** Waited for before every read, so that a reader sees its own history's pending appends. Never rejects. */
  readonly flush: () => Promise<void>;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** The reading side of a `MessageHistory` (see `MessageHistoryReader` for the queries). */
export class HistoryReader {
  readonly #fs: FileSystem;
  readonly #path: string;
  readonly #onIssue: HistoryIssueListener;
  readonly #flush: () => Promise<void>;

  constructor(options: HistoryReaderOptions) {
    this.#fs = options.fs;
    this.#path = options.path;
    this.#onIssue = options.onIssue;
    this.#flush = options.flush;
  }

  /**
   * The entries, newest first, streamed from the end of the file.
   * @throws {InvalidOpError} when the query is not valid.
   * @throws {StoreError} when the file cannot be read (a missing file has no entries).
   */
  async *entries(query: HistoryQuery = {}): AsyncGenerator<HistoryEntry> {
    const issues = queryIssues(query);
    if (issues.length > 0) throw new InvalidOpError(issues, 'history query');
    yield* this.#scan((e) => query.sessionId === undefined || e.sessionId === query.sessionId, query.limit ?? Infinity);
  }

  /**
   * The newest entries first, at most `limit` (default 100), optionally of one conversation.
   * @throws {InvalidOpError} when the query is not valid.
   * @throws {StoreError} when the file cannot be read.
   */
  async list(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return collect(this.entries({ ...query, limit: query.limit ?? 100 }));
  }

  /**
   * The entry with this id (case-insensitive), or `null`, scanning from the newest entry back.
   * @throws {StoreError} when the file cannot be read.
   */
  async lookup(id: string): Promise<HistoryEntry | null> {
    if (typeof id !== 'string' || !HISTORY_ID.test(id)) return null;
    const wanted = id.toUpperCase();
    for await (const entry of this.#scan((e) => e.id === wanted, 1)) return entry;
    return null;
  }

  /**
   * Entries whose text contains `text` (case-insensitive), newest first, at most `limit`
   * (default 100), optionally of one conversation.
   * @throws {InvalidOpError} when `text` is not a string or the query is not valid.
   * @throws {StoreError} when the file cannot be read.
   */
  async search(text: string, query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    const issues = queryIssues(query);
    if (typeof text !== 'string') issues.unshift({ path: ['text'], message: `expected string, got ${typeof text}` });
    if (issues.length > 0) throw new InvalidOpError(issues, 'history search');
    const needle = text.toLowerCase();
    const match = (e: HistoryEntry): boolean =>
      (query.sessionId === undefined || e.sessionId === query.sessionId) && e.text.toLowerCase().includes(needle);
    return collect(this.#scan(match, query.limit ?? 100));
  }

  /** Entries matching `keep`, newest first, at most `limit`. */
  async *#scan(keep: (entry: HistoryEntry) => boolean, limit: number): AsyncGenerator<HistoryEntry> {
    await this.#flush();
    const fd = await this.#openForRead();
    if (fd === null) return;
    try {
      const size = await this.#fs.fstatSize(fd);
      let found = 0;
      for await (const line of linesBackward(this.#fs, fd, size)) {
        const entry = this.#entryOf(line);
        if (!entry || !keep(entry)) continue;
        yield entry;
        if (++found >= limit) return;
      }
    } catch (err) {
      if (err instanceof ColloquyError) throw err;
      throw new StoreError(`could not read the message history ${this.#path}: ${describeError(err)}`, { path: this.#path, cause: err });
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  /** The file opened for reading, or `null` if there is none yet. */
  async #openForRead(): Promise<number | null> {
    try {
      return await this.#fs.open(this.#path, READ_FLAGS);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null;
      throw new StoreError(`could not open the message history ${this.#path}: ${describeError(err)}`, { path: this.#path, cause: err });
    }
  }

  /** The entry a line holds, or `null` (blank, torn or bad; the last two reported). */
  #entryOf(line: RawLine): HistoryEntry | null {
    if (line.text.trim() === '') return null;
    if (!line.terminated) {
      this.#onIssue({ kind: 'torn_tail', path: this.#path, offset: line.offset, detail: `${Buffer.byteLength(line.text)} bytes without a newline skipped` });
      return null;
    }
    const parsed = parseHistoryLine(line.text);
    if ('reason' in parsed) {
      this.#onIssue({ kind: 'bad_line', path: this.#path, offset: line.offset, detail: `skipped: ${parsed.reason}` });
      return null;
    }
    return parsed;
  }
}
