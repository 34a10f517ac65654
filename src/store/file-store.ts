/**
 * The file store: one append-only JSONL log per conversation (SPEC §5), the embedded default.
 *
 * Commits are group commits: the persistence actor hands over the records of many
 * conversations at once; each log gets one `write` and, for durability `sync`, one
 * `fdatasync`, and every directory that gained a file is fsynced once, before anything is
 * acknowledged. I/O runs with bounded concurrency (`p-queue`). A failed append is cut back
 * to the log's previous size, so a log never keeps half a commit.
 *
 * fsyncs run on libuv's thread pool (4 threads unless `UV_THREADPOOL_SIZE` is set before
 * the first I/O); with many conversations, a larger pool lets more fsyncs overlap.
 */
import { basename, join } from 'node:path';
import PQueue from 'p-queue';
import { ColloquyError, CorruptLogError, SessionNotFoundError, StoreError } from '../errors.js';
import { assertConversationId, isConversationId } from '../protocol/ids.js';
import type { LogRecord, SessionMetaPayload } from '../protocol/records.js';
import { APPEND_FLAGS, CREATE_FLAGS, describeError, nodeFileSystem, READ_FLAGS, SIDE_FILE_FLAGS, type FileSystem } from './fs.js';
import { compareListed, cursorAfter, isAfter, matches, pageSize, parseCursor, type Listed } from './listing.js';
import { parseLine, readLog } from './log-reader.js';
import { peekRecord, scanBackward } from './reverse.js';
import { LeaseManager, type LeaseOptions } from './lease.js';
import { ListingIndex, listedOf, type IndexPatch } from './listing-index.js';
import { MessageHistory, type MessageHistoryOptions } from './history.js';
import { DIR_MODE, FILE_MODE, StorePaths } from './paths.js';
import type {
  CommitEntry,
  CommitOptions,
  CommitOutcome,
  ConversationSummary,
  ListPage,
  ListQuery,
  LogIssue,
  ReadMode,
  ReadOptions,
  Store,
} from './store.js';
import { latestName, summaryOf } from './summary.js';

/** Options of `FileStore`: its home directory, the file-system layer (injectable for fault tests), the read mode, open-file and I/O concurrency limits, where log issues go, and lease options. */
export interface FileStoreOptions {
  /** Root directory (created if missing, mode 0700). */
  readonly home: string;
  /** File-system calls (replace to inject faults). */
  readonly fs?: FileSystem;
  /** How bad lines are treated when reading. Default `strict`. */
  readonly mode?: ReadMode;
  /**
   * Logs kept open for appending at once; the least recently used is closed beyond this.
   * Default 1024. When the process runs out of file descriptors (EMFILE), idle logs are closed
   * and the open is tried once more.
   */
  readonly maxOpenFiles?: number;
  /** Concurrent file operations during a commit. Default 32. */
  readonly ioConcurrency?: number;
  /** Called for everything found that is not a clean record (torn tails, skipped lines). */
  readonly onIssue?: (issue: LogIssue) => void;
  /** Write-lease settings. */
  readonly lease?: LeaseOptions;
  /**
   * The global message history `<home>/history.jsonl`: `maxBytes` caps it (trimmed to 80%),
   * `persistence: 'none'` records nothing (as Codex's `[history]` settings), and its lock and
   * file-system options (see `MessageHistoryOptions`).
   */
  readonly history?: Omit<MessageHistoryOptions, 'home'>;
}

/** An open log being appended to. */
interface Writer {
  readonly id: string;
  fd: number;
  path: string;
  archived: boolean;
  /** Bytes in the log after the last successful append. */
  size: number;
  nextSeq: number;
  /** In use by a running append; never closed while > 0. */
  busy: number;
  /** Written but not yet fsynced (durability `batched`). */
  dirty: boolean;
  /** A background fsync failed: reported by the next commit. */
  failure: Error | null;
}

const TAIL_BYTES = 64 * 1024;
const HEAD_BYTES = 4 * 1024;
const LOG_FILE = /^([0-9A-HJKMNP-TV-Z]{26})\.jsonl$/;

/**
 * The outcome error of a failed append to the log at `where`: a Colloquy error keeps its
 * code (`corrupt_log`, `invalid_id`, `session_not_found`…) and, when it already names the
 * file, its message; anything else is a `store_error` naming the file and the errno.
 */
function failureOf(err: unknown, where: string): { message: string; code: string } {
  if (err instanceof StoreError && err.path !== undefined) return { message: err.message, code: err.code };
  if (err instanceof ColloquyError) return { message: `${where}: ${err.message}`, code: err.code };
  return { message: `${where}: ${describeError(err)}`, code: 'store_error' };
}

/** Length of a UTF-8 byte-order mark at the start of `bytes` (3), or 0. */
function bomLength(bytes: Uint8Array): number {
  return bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
}

/** A `Store` of JSONL files under a home directory. */
export class FileStore implements Store {
  readonly description: string;
  readonly paths: StorePaths;
  /** The global message history, `<home>/history.jsonl`; written by `commit`. */
  readonly history: MessageHistory;
  readonly #fs: FileSystem;
  readonly #mode: ReadMode;
  readonly #maxOpen: number;
  readonly #queue: PQueue;
  readonly #issueListeners = new Set<(issue: LogIssue) => void>();
  readonly #writers = new Map<string, Writer>();
  readonly #leases: LeaseManager;
  readonly #index: ListingIndex;
  /** When each conversation's update time was last written to the index (ms). */
  readonly #indexed = new Map<string, number>();
  /** When this process last appended to each conversation (ms): exact, unlike the index's. */
  readonly #updated = new Map<string, number>();
  #fsyncTimer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: FileStoreOptions) {
    this.paths = new StorePaths(options.home);
    this.description = `file store at ${options.home}`;
    this.#fs = options.fs ?? nodeFileSystem;
    this.#mode = options.mode ?? 'strict';
    this.#maxOpen = options.maxOpenFiles ?? 1024;
    this.#queue = new PQueue({ concurrency: options.ioConcurrency ?? 32 });
    if (options.onIssue) this.#issueListeners.add(options.onIssue);
    this.#leases = new LeaseManager(options.home, this.#fs, options.lease);
    this.#index = new ListingIndex(options.home, this.#fs);
    this.history = new MessageHistory({ ...options.history, home: options.home });
  }

  async acquire(id: string): Promise<void> {
    await this.#leases.acquire(id);
  }

  /** Listen to everything found that is not a clean record; returns the unsubscribe function. */
  watchIssues(listener: (issue: LogIssue) => void): () => void {
    this.#issueListeners.add(listener);
    return () => this.#issueListeners.delete(listener);
  }

  #report(found: LogIssue): void {
    const id = found.conversationId ?? LOG_FILE.exec(basename(found.location))?.[1];
    const issue = id !== undefined && found.conversationId === undefined ? { ...found, conversationId: id } : found;
    for (const listener of this.#issueListeners) {
      try {
        listener(issue);
      } catch {
        // A listener's failure is not the store's.
      }
    }
  }

  // ——— writing ———

  async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
    if (this.#closed) throw new StoreError(`${this.description} is closed`);
    await this.#indexCreations(entries, options);
    const dirs = new Set<string>();
    const created: { index: number; dir: string }[] = [];
    const outcomes = await Promise.all(
      entries.map((entry, index) =>
        this.#queue.add(() => this.#append(entry, options, dirs, (dir) => created.push({ index, dir }))) as Promise<CommitOutcome>,
      ),
    );
    // A new log is durable only once its directory entry is: fsync each directory once.
    if (options.durability === 'sync' && dirs.size > 0) {
      const failedDirs = new Map<string, string>();
      await Promise.all(
        [...dirs].map((dir) =>
          this.#fs.syncDir(dir).catch((err: unknown) => {
            failedDirs.set(dir, describeError(err));
          }),
        ),
      );
      for (const { index, dir } of created) {
        const reason = failedDirs.get(dir);
        const outcome = outcomes[index];
        if (reason === undefined || !outcome || !outcome.ok) continue;
        const first = entries[index]?.records[0]?.seq ?? 0;
        // Its directory entry is not durable: remove the log, so none of its records remain and a retry can create it again.
        await this.#discard(outcome.conversationId, true);
        outcomes[index] = {
          conversationId: outcome.conversationId,
          ok: false,
          firstSeq: first,
          error: { message: `could not sync directory ${dir}: ${reason}`, code: 'store_error' },
        };
      }
    }
    if (options.durability === 'batched') this.#scheduleFsync(options.fsyncIntervalMs ?? 100);
    await Promise.all([this.#indexUpdates(entries, outcomes), this.#remember(entries, outcomes, options)]);
    return outcomes;
  }

  /**
   * The user messages of the conversations whose records were committed, into the global
   * message history, fsynced for durability `sync`. The history serves recall, not recovery: a
   * failure to write it is reported and never fails the commit.
   */
  async #remember(entries: readonly CommitEntry[], outcomes: readonly CommitOutcome[], options: CommitOptions): Promise<void> {
    const inputs: { sessionId: string; text: string }[] = [];
    entries.forEach((entry, i) => {
      if (!entry.messages || !outcomes[i]?.ok) return;
      for (const text of entry.messages) inputs.push({ sessionId: entry.conversationId, text });
    });
    if (inputs.length === 0) return;
    try {
      await this.history.write(inputs, { sync: options.durability === 'sync' });
    } catch (err) {
      this.history.reportWriteFailure(err, inputs.length);
    }
  }

  /**
   * Creation patches for the listing index, appended (and fsynced) before the logs are
   * created, so that after a crash no log exists that the index lacks. A failure here only
   * leaves the index stale (listing repairs or rebuilds it); it never fails the commit.
   */
  async #indexCreations(entries: readonly CommitEntry[], options: CommitOptions): Promise<void> {
    const now = Date.now();
    const patches: IndexPatch[] = [];
    for (const { conversationId: id, records } of entries) {
      const first = records[0];
      if (first?.type !== 'session_meta' || !isConversationId(id)) continue;
      const meta = first.payload;
      patches.push({
        id,
        c: Date.parse(meta.created_at) || now,
        u: now,
        ...(meta.name !== undefined ? { name: meta.name } : {}),
        ...(meta.metadata !== undefined ? { meta: meta.metadata } : {}),
        ...(meta.forked_from !== undefined ? { fork: meta.forked_from } : {}),
        model: meta.config.model,
        cwd: meta.config.cwd,
      });
      this.#indexed.set(id, now);
    }
    await this.#indexPatches(patches, options.durability !== 'none');
  }

  /**
   * What the committed records change in the listing index: a new name, or (at most once a
   * second per conversation; `list` overlays this process's exact times) a new update time.
   */
  async #indexUpdates(entries: readonly CommitEntry[], outcomes: readonly CommitOutcome[]): Promise<void> {
    const now = Date.now();
    const patches: IndexPatch[] = [];
    entries.forEach(({ conversationId: id, records }, i) => {
      if (!outcomes[i]?.ok || records[0]?.type === 'session_meta') return;
      this.#updated.set(id, now);
      const name = latestName(records);
      if (name !== undefined) patches.push({ id, name, u: now });
      else if (now - (this.#indexed.get(id) ?? 0) >= 1_000) patches.push({ id, u: now });
      else return;
      this.#indexed.set(id, now);
    });
    await this.#indexPatches(patches, false);
  }

  async #indexPatches(patches: readonly IndexPatch[], durable: boolean): Promise<void> {
    if (patches.length === 0) return;
    try {
      await this.#index.append(patches, durable);
    } catch (err) {
      this.#report({ kind: 'bad_line', location: this.#index.path, line: 0, detail: `index not updated (${describeError(err)}); it is rebuilt when needed` });
    }
  }

  async #append(
    entry: CommitEntry,
    options: CommitOptions,
    dirs: Set<string>,
    onCreate: (dir: string) => void,
  ): Promise<CommitOutcome> {
    const { conversationId: id, records } = entry;
    const first = records[0];
    const last = records[records.length - 1];
    if (!first || !last) return { conversationId: id, ok: true, lastSeq: -1 };
    let writer: Writer | undefined;
    let path = '';
    try {
      // Fencing: only the lease holder appends, and it checks it still is before every append.
      if (this.#leases.held(id)) await this.#leases.verify(id);
      else await this.#leases.acquire(id);
      writer = this.#writers.get(id) ?? (await this.#openWriter(id, first, dirs, onCreate));
      path = writer.path;
      writer.busy++;
      this.#touch(writer);
      if (writer.failure) {
        const failure = writer.failure;
        writer.failure = null;
        throw failure;
      }
      if (first.seq !== writer.nextSeq) {
        writer.busy--;
        return {
          conversationId: id,
          ok: false,
          firstSeq: first.seq,
          error: { message: `${writer.path}: expected seq ${writer.nextSeq}, got ${first.seq}`, code: 'seq_mismatch' },
        };
      }
      let text = '';
      for (const record of records) text += `${JSON.stringify(record)}\n`;
      const data = Buffer.from(text, 'utf8');
      try {
        await this.#fs.writeAll(writer.fd, data);
        if (options.durability === 'sync') await this.#fs.fdatasync(writer.fd);
        else if (options.durability === 'batched') writer.dirty = true;
      } catch (err) {
        // Cut the log back so it never keeps part of this commit; the records stay with the caller.
        await this.#fs.ftruncate(writer.fd, writer.size).catch(() => {});
        throw err;
      }
      writer.size += data.length;
      writer.nextSeq = last.seq + 1;
      writer.busy--;
      this.#evict();
      return { conversationId: id, ok: true, lastSeq: last.seq };
    } catch (err) {
      if (writer) {
        writer.busy--;
        // A log this commit created holds nothing acknowledged: remove it, so a retry can create it again.
        await this.#discard(id, writer.size === 0);
      }
      const where = path || (isConversationId(id) ? this.paths.log(id, false) : id);
      return { conversationId: id, ok: false, firstSeq: first.seq, error: failureOf(err, where) };
    }
  }

  async #openWriter(id: string, first: LogRecord, dirs: Set<string>, onCreate: (dir: string) => void): Promise<Writer> {
    assertConversationId(id);
    if (first.type === 'session_meta') {
      const dir = this.paths.dayDir(id, false);
      const path = this.paths.log(id, false);
      let fd: number;
      try {
        fd = await this.#openFd(path, CREATE_FLAGS);
      } catch (err) {
        // The day's directory is made when missing (not once per conversation).
        if ((err as NodeJS.ErrnoException | null)?.code !== 'ENOENT') throw err;
        const made = await this.#fs.mkdirp(dir, DIR_MODE);
        for (const d of made) dirs.add(join(d, '..'));
        fd = await this.#openFd(path, CREATE_FLAGS);
      }
      dirs.add(dir);
      onCreate(dir);
      const writer: Writer = { id, fd, path, archived: false, size: 0, nextSeq: first.seq, busy: 0, dirty: false, failure: null };
      this.#writers.set(id, writer);
      return writer;
    }
    const { path, archived } = await this.#locate(id);
    const fd = await this.#openFd(path, APPEND_FLAGS);
    try {
      const { size, nextSeq } = await this.#checkTail(fd, path);
      const writer: Writer = { id, fd, path, archived, size, nextSeq, busy: 0, dirty: false, failure: null };
      this.#writers.set(id, writer);
      return writer;
    } catch (err) {
      await this.#fs.close(fd).catch(() => {});
      throw err;
    }
  }

  /** Open a log for writing; out of file descriptors, close half the idle logs and try once more. */
  async #openFd(path: string, flags: number): Promise<number> {
    try {
      return await this.#fs.open(path, flags, FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException | null)?.code !== 'EMFILE' || this.#writers.size === 0) throw err;
      const closing: Promise<void>[] = [];
      let excess = Math.ceil(this.#writers.size / 2);
      for (const writer of this.#writers.values()) {
        if (excess === 0) break;
        if (writer.busy > 0) continue;
        this.#writers.delete(writer.id);
        closing.push(this.#closeWriter(writer));
        excess--;
      }
      await Promise.all(closing);
      return await this.#fs.open(path, flags, FILE_MODE);
    }
  }

  /**
   * Before appending to an existing log: find the last record's `seq`, and if the log ends in
   * a torn line (a crash mid-write), move those bytes to the `.torn` side file, cut them off
   * and report it.
   */
  async #checkTail(fd: number, path: string): Promise<{ size: number; nextSeq: number }> {
    let size = await this.#fs.fstatSize(fd);
    let window = Math.min(size, TAIL_BYTES);
    while (true) {
      const buffer = Buffer.allocUnsafe(window);
      const n = await this.#fs.read(fd, buffer, 0, window, size - window);
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
        const sideFd = await this.#fs.open(tornPath, SIDE_FILE_FLAGS, FILE_MODE);
        try {
          await this.#fs.writeAll(sideFd, torn);
          await this.#fs.fdatasync(sideFd);
        } finally {
          await this.#fs.close(sideFd).catch(() => {});
        }
        const kept = size - torn.length;
        await this.#fs.ftruncate(fd, kept);
        await this.#fs.fdatasync(fd);
        const line = await this.#countLines(path, kept);
        this.#report({ kind: 'torn_tail', location: path, line: line + 1, detail: `${torn.length} bytes moved to ${tornPath}` });
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
        const line = await this.#countLines(path, size);
        throw new CorruptLogError(path, line, parsed.reason);
      }
      return { size, nextSeq: parsed.record.seq + 1 };
    }
  }

  /** Number of newlines in the first `bytes` of a file (a line number for messages). */
  async #countLines(path: string, bytes: number): Promise<number> {
    const fd = await this.#fs.open(path, READ_FLAGS);
    try {
      const buffer = Buffer.allocUnsafe(256 * 1024);
      let count = 0;
      for (let pos = 0; pos < bytes; ) {
        const n = await this.#fs.read(fd, buffer, 0, Math.min(buffer.length, bytes - pos), pos);
        if (n === 0) break;
        for (let i = 0; i < n; i++) if (buffer[i] === 0x0a) count++;
        pos += n;
      }
      return count;
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  #touch(writer: Writer): void {
    // Map order is recency order: move to the end.
    this.#writers.delete(writer.id);
    this.#writers.set(writer.id, writer);
  }

  #evict(): void {
    if (this.#writers.size <= this.#maxOpen) return;
    for (const writer of this.#writers.values()) {
      if (this.#writers.size <= this.#maxOpen) break;
      if (writer.busy > 0) continue;
      this.#writers.delete(writer.id);
      void this.#closeWriter(writer);
    }
  }

  async #closeWriter(writer: Writer): Promise<void> {
    if (writer.dirty) {
      writer.dirty = false;
      await this.#fs.fdatasync(writer.fd).catch(() => {});
    }
    await this.#fs.close(writer.fd).catch(() => {});
  }

  /**
   * Close and forget a writer after a failure, so the next append re-checks the log;
   * with `remove`, also delete its log (one just created, holding nothing acknowledged).
   */
  async #discard(id: string, remove = false): Promise<void> {
    const writer = this.#writers.get(id);
    if (!writer) return;
    this.#writers.delete(id);
    await this.#fs.close(writer.fd).catch(() => {});
    if (remove) await this.#fs.unlink(writer.path).catch(() => {});
  }

  #scheduleFsync(intervalMs: number): void {
    if (this.#fsyncTimer) return;
    this.#fsyncTimer = setTimeout(() => {
      this.#fsyncTimer = null;
      void this.#fsyncDirty();
    }, intervalMs);
    this.#fsyncTimer.unref();
  }

  async #fsyncDirty(): Promise<void> {
    const dirty = [...this.#writers.values()].filter((w) => w.dirty);
    await Promise.all(
      dirty.map((writer) =>
        this.#queue.add(async () => {
          writer.dirty = false;
          try {
            await this.#fs.fdatasync(writer.fd);
          } catch (err) {
            writer.failure = new StoreError(`${writer.path}: background fsync failed: ${describeError(err)}`, { path: writer.path, cause: err });
          }
        }),
      ),
    );
  }

  // ——— reading ———

  async #locate(raw: string): Promise<{ path: string; archived: boolean }> {
    const id = assertConversationId(raw);
    const open = this.#writers.get(id);
    if (open) return { path: open.path, archived: open.archived };
    const active = this.paths.log(id, false);
    if (await this.#fs.exists(active)) return { path: active, archived: false };
    const archived = this.paths.log(id, true);
    if (await this.#fs.exists(archived)) return { path: archived, archived: true };
    throw new SessionNotFoundError(id, this.description);
  }

  async *read(id: string, options: ReadOptions = {}): AsyncIterable<LogRecord> {
    const { path } = await this.#locate(id);
    const onIssue = (issue: LogIssue): void => {
      options.onIssue?.(issue);
      this.#report(issue);
    };
    const from = options.fromSeq !== undefined ? await this.#offsetOf(path, options.fromSeq) : null;
    yield* readLog(this.#fs, path, {
      mode: options.mode ?? this.#mode,
      onIssue,
      expectId: assertConversationId(id),
      ...(options.upToSeq !== undefined ? { upToSeq: options.upToSeq } : {}),
      ...(from ? { startOffset: from.offset, firstSeq: from.seq, linesBefore: () => this.#countLines(path, from.offset) } : {}),
    });
  }

  /**
   * Where the record with `seq` starts, found by reading backwards from the end; null when the
   * log's records start after it (read it from its start then).
   */
  async #offsetOf(path: string, seq: number): Promise<{ offset: number; seq: number } | null> {
    const fd = await this.#fs.open(path, READ_FLAGS);
    try {
      const size = await this.#fs.fstatSize(fd);
      let found: { offset: number; seq: number } | null = null;
      await scanBackward(this.#fs, fd, size, (line, offset) => {
        const peek = peekRecord(line);
        if (!peek || peek.seq > seq) return false;
        // The first line at or before `seq` (a gap is reported by the forward read that follows).
        if (offset > 0) found = { offset, seq: peek.seq };
        return true;
      });
      return found;
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  async head(id: string): Promise<LogRecord> {
    const { path } = await this.#locate(id);
    return this.#head(path);
  }

  async lastRecordOf(id: string, type: LogRecord['type'], options: { readonly upToSeq?: number } = {}): Promise<LogRecord | null> {
    const { path } = await this.#locate(id);
    const upTo = options.upToSeq ?? Infinity;
    const fd = await this.#fs.open(path, READ_FLAGS);
    try {
      const size = await this.#fs.fstatSize(fd);
      let found: LogRecord | null = null;
      await scanBackward(this.#fs, fd, size, (line) => {
        const peek = peekRecord(line);
        if (!peek || peek.type !== type || peek.seq > upTo) return false;
        const parsed = parseLine(line);
        if ('reason' in parsed) return false;
        found = parsed.record;
        return true;
      });
      return found;
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  async exists(id: string): Promise<boolean> {
    try {
      await this.#locate(id);
      return true;
    } catch (err) {
      if (err instanceof SessionNotFoundError) return false;
      throw err;
    }
  }

  /** The first line of a log, parsed. */
  async #head(path: string): Promise<LogRecord> {
    const fd = await this.#fs.open(path, READ_FLAGS);
    try {
      let size = HEAD_BYTES;
      while (true) {
        const buffer = Buffer.allocUnsafe(size);
        const n = await this.#fs.read(fd, buffer, 0, size, 0);
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
      await this.#fs.close(fd).catch(() => {});
    }
  }

  async #listed(path: string, archived: boolean): Promise<Listed | null> {
    const [head, st] = await Promise.all([this.#head(path), this.#fs.stat(path)]);
    if (head.type !== 'session_meta' || !st) return null;
    const updatedMs = Math.floor(st.mtimeMs);
    return { summary: summaryOf(head.payload, updatedMs, archived), updatedMs };
  }

  /** The conversation as `list` shows it (from the index; from its log when the index lacks it). */
  async summary(id: string): Promise<ConversationSummary> {
    const { path, archived } = await this.#locate(id);
    const canonical = assertConversationId(id);
    if (await this.#index.usable()) {
      const indexed = (await this.#index.all()).find((l) => l.summary.id === canonical);
      if (indexed) return this.#overlay(indexed).summary;
    }
    const listed = await this.#listed(path, archived);
    if (!listed) throw new SessionNotFoundError(id, this.description);
    return this.#overlay(listed).summary;
  }

  /** Every log path under the active or archived root, newest id first. */
  async *#walk(archived: boolean): AsyncIterable<{ id: string; path: string }> {
    const root = this.paths.root(archived);
    const desc = (names: string[], pattern: RegExp): string[] => names.filter((n) => pattern.test(n)).sort().reverse();
    for (const year of desc(await this.#fs.readdir(root), /^\d{4}$/)) {
      for (const month of desc(await this.#fs.readdir(join(root, year)), /^\d{2}$/)) {
        for (const day of desc(await this.#fs.readdir(join(root, year, month)), /^\d{2}$/)) {
          const dir = join(root, year, month, day);
          for (const name of desc(await this.#fs.readdir(dir), LOG_FILE)) {
            yield { id: name.slice(0, 26), path: join(dir, name) };
          }
        }
      }
    }
  }

  /**
   * A page of conversations, from the listing index (rebuilt from the logs first when it is
   * missing or of another format). Entries whose log no longer exists are dropped from the
   * index as they are met.
   * @throws {InvalidOpError} for a bad limit or cursor.
   */
  async list(query: ListQuery = {}): Promise<ListPage> {
    const limit = pageSize(query);
    const sort = query.sort ?? 'created';
    const position = parseCursor(query);
    if (!(await this.#index.usable())) await this.reindex();
    for (let attempt = 0; ; attempt++) {
      let candidates: Listed[];
      if (sort === 'created' && !position) {
        candidates = (await this.#index.newest(limit, (l) => matches(l.summary, query))).map((l) => this.#overlay(l));
      } else {
        candidates = await this.#ordered(sort, query, position);
        void this.#index.compactIfBloated().catch(() => {});
      }
      const page = candidates.slice(0, limit);
      const gone = await this.#missing(page);
      if (gone.length > 0 && attempt === 0) {
        await this.#index.append(gone.map((id) => ({ id, del: true as const })), false);
        continue;
      }
      const shown = page.filter((l) => !gone.includes(l.summary.id));
      const last = shown[shown.length - 1];
      return { items: shown.map((l) => l.summary), nextCursor: candidates.length > limit && last ? cursorAfter(last, sort) : null };
    }
  }

  /**
   * Conversations after the cursor, in order, from the index's sorted listing: a binary search
   * finds the cursor, and filters apply only when the query has any. This process's exact update
   * times are taken in (re-sorting when they change the order).
   */
  async #ordered(sort: 'created' | 'updated', query: ListQuery, position: ReturnType<typeof parseCursor>): Promise<Listed[]> {
    let sorted: readonly Listed[] = await this.#index.sorted(sort);
    if (this.#updated.size > 0) {
      sorted = sorted.map((l) => this.#overlay(l));
      if (sort === 'updated') sorted = [...sorted].sort(compareListed(sort));
    }
    let from = 0;
    if (position) {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (isAfter(sorted[mid] as Listed, position, sort)) hi = mid;
        else lo = mid + 1;
      }
      from = lo;
    }
    const filtered = query.name !== undefined || query.metadata !== undefined || query.archived === true;
    const out: Listed[] = [];
    for (let i = from; i < sorted.length; i++) {
      const l = sorted[i] as Listed;
      if (filtered ? matches(l.summary, query) : !l.summary.archived) out.push(l);
      // One more than a page tells whether a next page exists.
      if (out.length > pageSize(query)) break;
    }
    return out;
  }

  /** A listed conversation with this process's exact update time, when it is newer. */
  #overlay(listed: Listed): Listed {
    const mine = this.#updated.get(listed.summary.id);
    if (mine === undefined || mine <= listed.updatedMs) return listed;
    return { summary: { ...listed.summary, updatedAt: new Date(mine).toISOString() }, updatedMs: mine };
  }

  /** The ids of listed conversations whose log is gone. */
  async #missing(page: readonly Listed[]): Promise<string[]> {
    const gone: string[] = [];
    await Promise.all(
      page.map(async ({ summary }) => {
        if (this.#writers.has(summary.id)) return;
        const path = this.paths.log(summary.id, summary.archived);
        if (await this.#fs.exists(path)) return;
        if (await this.#fs.exists(this.paths.log(summary.id, !summary.archived))) return;
        gone.push(summary.id);
      }),
    );
    return gone;
  }

  /** The name a log ends with: its last rename, or the name it was created with. */
  async #lastName(path: string, meta: SessionMetaPayload): Promise<string | undefined> {
    const fd = await this.#fs.open(path, READ_FLAGS);
    try {
      const size = await this.#fs.fstatSize(fd);
      let name: string | undefined;
      const found = await scanBackward(this.#fs, fd, size, (line) => {
        const peek = peekRecord(line);
        if (!peek || (peek.type !== 'event' && peek.type !== 'compacted')) return false;
        const parsed = parseLine(line);
        if ('reason' in parsed) return false;
        name = latestName([parsed.record]);
        return name !== undefined;
      });
      return found ? name : meta.name;
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  /**
   * Rebuild the listing index from the logs (active and archived): each log's header, last
   * name and modification time. Logs that cannot be read are left out and reported.
   */
  async reindex(): Promise<void> {
    const patches: IndexPatch[] = [];
    for (const archived of [false, true]) {
      for await (const { path } of this.#walk(archived)) {
        try {
          const [head, st] = await Promise.all([this.#head(path), this.#fs.stat(path)]);
          if (head.type !== 'session_meta' || !st) continue;
          const meta = head.payload;
          const name = await this.#lastName(path, meta);
          patches.push({
            id: meta.id,
            c: Date.parse(meta.created_at),
            u: Math.floor(st.mtimeMs),
            ...(name !== undefined ? { name } : {}),
            ...(meta.metadata !== undefined ? { meta: meta.metadata } : {}),
            ...(meta.forked_from !== undefined ? { fork: meta.forked_from } : {}),
            ...(archived ? { arch: true } : {}),
            model: meta.config.model,
            cwd: meta.config.cwd,
          });
        } catch (err) {
          if (!(err instanceof CorruptLogError)) throw err;
          this.#report({ kind: 'bad_line', location: path, line: err.line, detail: `not indexed: ${err.reason}` });
        }
      }
    }
    patches.sort((a, b) => (a.id < b.id ? -1 : 1));
    await this.#index.rewrite(patches);
  }

  // ——— lifecycle of logs ———

  async #move(id: string, toArchived: boolean): Promise<void> {
    const { path, archived } = await this.#locate(id);
    if (archived === toArchived) return;
    const dir = this.paths.dayDir(id, toArchived);
    const made = await this.#fs.mkdirp(dir, DIR_MODE);
    const target = this.paths.log(id, toArchived);
    await this.#fs.rename(path, target);
    if (await this.#fs.exists(`${path}.torn`)) await this.#fs.rename(`${path}.torn`, `${target}.torn`);
    const writer = this.#writers.get(id);
    if (writer) {
      writer.path = target;
      writer.archived = toArchived;
    }
    const syncs = new Set([dir, this.paths.dayDir(id, archived), ...made.map((d) => join(d, '..'))]);
    await Promise.all([...syncs].map((d) => this.#fs.syncDir(d)));
  }

  async archive(id: string): Promise<void> {
    await this.#move(id, true);
    await this.#index.append([{ id: assertConversationId(id), arch: true }], false);
  }

  async unarchive(id: string): Promise<void> {
    await this.#move(id, false);
    await this.#index.append([{ id: assertConversationId(id), arch: false }], false);
  }

  async delete(id: string): Promise<void> {
    const { path } = await this.#locate(id);
    await this.#discard(id);
    await this.#fs.unlink(path);
    if (await this.#fs.exists(`${path}.torn`)) await this.#fs.unlink(`${path}.torn`);
    await this.#leases.remove(id);
    await this.#index.append([{ id: assertConversationId(id), del: true }], false).catch(() => {});
    await this.#fs.syncDir(join(path, '..'));
  }

  async release(id: string): Promise<void> {
    const writer = this.#writers.get(id);
    if (writer && writer.busy === 0) {
      this.#writers.delete(id);
      await this.#closeWriter(writer);
    }
    await this.#leases.release(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#fsyncTimer) clearTimeout(this.#fsyncTimer);
    this.#fsyncTimer = null;
    await this.#queue.onIdle();
    const writers = [...this.#writers.values()];
    this.#writers.clear();
    await Promise.all(writers.map((w) => this.#closeWriter(w)));
    await this.history.close();
    await this.#leases.releaseAll();
  }
}
