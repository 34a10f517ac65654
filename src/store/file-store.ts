/**
 * The file store: one append-only JSONL log per conversation (SPEC §5), the embedded default.
 *
 * This module is the facade. It composes:
 * - `log-writer.ts`: group commits (one `write`, and for durability `sync` one `fdatasync`,
 *   per log; each new directory fsynced once), over `open-logs.ts` (the open-file cache and
 *   the batched fsync timer) and `log-tail.ts` (torn-tail repair before appending);
 * - `log-locator.ts`: where a conversation's log is, and places in it (header, a `seq`'s
 *   offset, the last record of a type);
 * - `file-listing.ts`: listing from the index with this process's update times laid over it,
 *   and `file-reindex.ts`, which rebuilds the index from the logs;
 * - `history.ts`: the global message history, written in the same commit.
 * Archiving, unarchiving and deleting move or remove a log here.
 */
import { basename, join } from 'node:path';
import PQueue from 'p-queue';
import { SessionLockedError, SessionNotFoundError, StoreError } from '../errors.js';
import { assertConversationId, isConversationId } from '../protocol/ids.js';
import type { LogRecord } from '../protocol/records.js';
import { FileListing } from './file-listing.js';
import { nodeFileSystem, type FileSystem } from './fs.js';
import { MessageHistory, type MessageHistoryOptions } from './history.js';
import { LeaseManager, type LeaseOptions } from './lease.js';
import { ListingIndex } from './listing-index.js';
import { ownerOnly } from './home.js';
import { countLines, headerless, lastRecordIn, LOG_FILE, LogLocator, offsetOfSeq, readHead } from './log-locator.js';
import { readLog } from './log-reader.js';
import { LogWriter } from './log-writer.js';
import { OpenLogs } from './open-logs.js';
import { DIR_MODE, StorePaths } from './paths.js';
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

/** Options of `FileStore`: its home directory, the file-system layer (injectable for fault tests), the read mode, open-file and I/O concurrency limits, where log issues go, and lease options. */
export interface FileStoreOptions {
  /**
   * Root directory (created if missing, mode 0700). One that exists open to group or others is
   * tightened to 0700 on first use, as its `sessions/`, `archived/` and `leases/` (refused with a
   * `StoreError` when it belongs to another user).
   */
  readonly home: string;
  /** File-system calls (replace to inject faults). Default `nodeFileSystem`. */
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
   * file-system options (see `MessageHistoryOptions`; its `fs` is not the store's `fs`).
   */
  readonly history?: Omit<MessageHistoryOptions, 'home'>;
}

/** A `Store` of JSONL files under a home directory (see the module doc). */
export class FileStore implements Store {
  /** `file store at <home>`, for messages. */
  readonly description: string;
  /** The store's layout under its home. */
  readonly paths: StorePaths;
  /** The global message history, `<home>/history.jsonl`; written by `commit`. */
  readonly history: MessageHistory;
  readonly #fs: FileSystem;
  readonly #mode: ReadMode;
  readonly #issueListeners = new Set<(issue: LogIssue) => void>();
  readonly #leases: LeaseManager;
  readonly #index: ListingIndex;
  readonly #logs: OpenLogs;
  readonly #locator: LogLocator;
  readonly #writer: LogWriter;
  readonly #listing: FileListing;
  #closed = false;
  /** The checks made once when the store is first used (see `#opened`). */
  #ready: Promise<void> | null = null;

  constructor(options: FileStoreOptions) {
    this.paths = new StorePaths(options.home);
    this.description = `file store at ${options.home}`;
    this.#fs = options.fs ?? nodeFileSystem;
    this.#mode = options.mode ?? 'strict';
    const queue = new PQueue({ concurrency: options.ioConcurrency ?? 32 });
    if (options.onIssue) this.#issueListeners.add(options.onIssue);
    this.#leases = new LeaseManager(options.home, this.#fs, options.lease);
    this.#index = new ListingIndex(options.home, this.#fs);
    this.history = new MessageHistory({ ...options.history, home: options.home });
    const report = (issue: LogIssue): void => this.#report(issue);
    this.#logs = new OpenLogs(this.#fs, options.maxOpenFiles ?? 1024, queue);
    this.#locator = new LogLocator(this.#fs, this.paths, this.#logs.byId, this.description);
    this.#writer = new LogWriter({ fs: this.#fs, paths: this.paths, leases: this.#leases, logs: this.#logs, locator: this.#locator, queue, report, mode: this.#mode });
    this.#listing = new FileListing({
      fs: this.#fs,
      paths: this.paths,
      index: this.#index,
      locator: this.#locator,
      open: this.#logs.byId,
      report,
      store: this.description,
      discardHeaderless: (id, path) => this.#discardHeaderless(id, path),
    });
  }

  // ——— opening ———

  /**
   * What the store checks once, on its first use: the home and its `sessions/`, `archived/` and
   * `leases/` directories are made the owner's only (0755 becomes 0700; one another user owns
   * is refused), and logs left in `sessions/.creating` by a crash while a conversation was
   * created (their header never became durable) are removed and reported (`bad_header`).
   * @throws {StoreError} when a directory is open to others and not this user's, or cannot be made private.
   */
  #opened(): Promise<void> {
    this.#ready ??= (async () => {
      for (const dir of this.paths.privateDirs()) await ownerOnly(this.#fs, dir);
      await this.#sweepCreating();
    })();
    return this.#ready;
  }

  /** Remove the logs a crash left in `.creating` (those no live writer is creating now). */
  async #sweepCreating(): Promise<void> {
    const dir = this.paths.creatingDir();
    for (const name of await this.#fs.readdir(dir)) {
      const id = LOG_FILE.exec(name)?.[1];
      if (id === undefined) continue;
      await this.#removeUnfinished(id, join(dir, name), 'its creation was cut short before its header was durable');
    }
  }

  /**
   * A log at its place that never got its header (a crash while it was created, by a version
   * that wrote logs in place, or a power loss before it was synced): no conversation. Removed
   * when no live writer is creating it. Resolves with whether it is headerless (whether or not
   * it could be removed now).
   */
  async #discardHeaderless(id: string, path: string): Promise<boolean> {
    if (!(await headerless(this.#fs, path))) return false;
    await this.#removeUnfinished(id, path, 'it has no complete header (its creation was cut short)');
    return true;
  }

  /**
   * Remove a log whose creation never finished, unless a writer holds its lease (creating it
   * now: this store, or another live process); report it (`bad_header`) and drop it from the
   * listing index. Never rejects.
   */
  async #removeUnfinished(id: string, path: string, why: string): Promise<void> {
    if (this.#logs.byId.has(id) || this.#leases.held(id)) return;
    try {
      await this.#leases.acquire(id);
    } catch (err) {
      if (!(err instanceof SessionLockedError)) this.#report({ kind: 'bad_header', location: path, line: 1, detail: `${why}; not removed: ${String(err)}` });
      return;
    }
    try {
      // Checked again under the lease: a log in place that got its header meanwhile stays.
      if (!path.startsWith(this.paths.creatingDir()) && !(await headerless(this.#fs, path))) return;
      await this.#fs.unlink(path);
      await this.#index.append([{ id, del: true }], false).catch(() => {});
      this.#report({ kind: 'bad_header', location: path, conversationId: id, line: 1, detail: `${why}: removed` });
    } catch (err) {
      this.#report({ kind: 'bad_header', location: path, conversationId: id, line: 1, detail: `${why}; not removed: ${String(err)}` });
    } finally {
      await this.#leases.remove(id);
    }
  }

  /**
   * Where a conversation's log is, once the store is opened (see `#opened`).
   * @throws {SessionNotFoundError} when it has no log.
   */
  async #locate(id: string): Promise<{ path: string; archived: boolean }> {
    assertConversationId(id);
    await this.#opened();
    return this.#locator.locate(id);
  }

  /** @throws {SessionNotFoundError} when the log at `path` has no header (and removes it when it can). */
  async #assertHeader(id: string, path: string): Promise<void> {
    if (this.#logs.byId.has(id.toUpperCase())) {
      if (this.#logs.byId.get(id.toUpperCase())?.target === undefined) return;
      throw new SessionNotFoundError(id, this.description);
    }
    if (await this.#discardHeaderless(id.toUpperCase(), path)) throw new SessionNotFoundError(id, this.description);
  }

  /** Take the conversation's write lease (see `Store.acquire`). @throws {SessionLockedError} when another live process holds it. */
  async acquire(id: string): Promise<void> {
    await this.#opened();
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

  /**
   * One group commit (see `Store.commit` and `log-writer.ts`): listing-index creations first,
   * then the logs, then index updates and the messages into the history.
   * @throws {StoreError} when the store is closed.
   */
  async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
    if (this.#closed) throw new StoreError(`${this.description} is closed`);
    // Entries with a malformed id touch no path (each fails on its own), so they open nothing either.
    if (entries.some((e) => isConversationId(String(e.conversationId).toUpperCase()))) await this.#opened();
    await this.#listing.indexCreations(entries, options);
    const outcomes = await this.#writer.commit(entries, options);
    await Promise.all([this.#listing.indexUpdates(entries, outcomes), this.#remember(entries, outcomes, options)]);
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

  // ——— reading ———

  /**
   * Stream a conversation's records (see `LogSource.read`); with `fromSeq`, from the record
   * at or before it, found by reading backwards from the end.
   * @throws {SessionNotFoundError} when it has no log.
   * @throws {CorruptLogError} in strict mode, at the first bad line.
   */
  async *read(id: string, options: ReadOptions = {}): AsyncIterable<LogRecord> {
    const { path } = await this.#locate(id);
    const onIssue = (issue: LogIssue): void => {
      options.onIssue?.(issue);
      this.#report(issue);
    };
    const from = options.fromSeq !== undefined ? await offsetOfSeq(this.#fs, path, options.fromSeq) : null;
    let any = false;
    for await (const record of readLog(this.#fs, path, {
      mode: options.mode ?? this.#mode,
      onIssue,
      expectId: assertConversationId(id),
      ...(options.upToSeq !== undefined ? { upToSeq: options.upToSeq } : {}),
      ...(from ? { startOffset: from.offset, firstSeq: from.seq, linesBefore: () => countLines(this.#fs, path, from.offset) } : {}),
    })) {
      any = true;
      yield record;
    }
    // Nothing read: a log that never got its header is no conversation.
    if (!any && !from) await this.#assertHeader(id, path);
  }

  /** A conversation's first record (`session_meta`). @throws {SessionNotFoundError} (also for a log that never got its header) @throws {CorruptLogError} when its header is not valid. */
  async head(id: string): Promise<LogRecord> {
    const { path } = await this.#locate(id);
    try {
      return await readHead(this.#fs, path);
    } catch (err) {
      await this.#assertHeader(id, path);
      throw err;
    }
  }

  /** The last record of `type` (at or before `upToSeq`), read backwards from the end; `null` if none. @throws {SessionNotFoundError} */
  async lastRecordOf(id: string, type: LogRecord['type'], options: { readonly upToSeq?: number } = {}): Promise<LogRecord | null> {
    const { path } = await this.#locate(id);
    return lastRecordIn(this.#fs, path, type, options.upToSeq ?? Infinity);
  }

  /**
   * Whether the conversation has a log (active or archived) with its header (a log that never
   * got one is no conversation). @throws {InvalidOpError} when `id` is not a conversation id.
   */
  async exists(id: string): Promise<boolean> {
    try {
      const { path } = await this.#locate(id);
      await this.#assertHeader(id, path);
      return true;
    } catch (err) {
      if (err instanceof SessionNotFoundError) return false;
      throw err;
    }
  }

  /** The conversation as `list` shows it (from the index; from its log when the index lacks it). @throws {SessionNotFoundError} (also for a log that never got its header) */
  async summary(id: string): Promise<ConversationSummary> {
    const { path } = await this.#locate(id);
    await this.#assertHeader(id, path);
    return this.#listing.summary(id);
  }

  /**
   * A page of conversations, from the listing index (rebuilt from the logs first when it is
   * missing or of another format). Entries whose log no longer exists are dropped from the
   * index as they are met.
   * @throws {InvalidOpError} for a bad limit or cursor.
   */
  async list(query: ListQuery = {}): Promise<ListPage> {
    await this.#opened();
    return this.#listing.list(query);
  }

  /**
   * Rebuild the listing index from the logs (active and archived): each log's header, last
   * name and modification time. Logs that cannot be read are left out and reported; logs that
   * never got their header are removed (see `#discardHeaderless`) and reported.
   */
  async reindex(): Promise<void> {
    await this.#opened();
    return this.#listing.reindex();
  }

  // ——— lifecycle of logs ———

  async #move(id: string, toArchived: boolean): Promise<void> {
    const { path, archived } = await this.#locate(id);
    await this.#assertHeader(id, path);
    if (archived === toArchived) return;
    const dir = this.paths.dayDir(id, toArchived);
    const made = await this.#fs.mkdirp(dir, DIR_MODE);
    const target = this.paths.log(id, toArchived);
    await this.#fs.rename(path, target);
    if (await this.#fs.exists(`${path}.torn`)) await this.#fs.rename(`${path}.torn`, `${target}.torn`);
    this.#logs.moved(id, target, toArchived);
    const syncs = new Set([dir, this.paths.dayDir(id, archived), ...made.map((d) => join(d, '..'))]);
    await Promise.all([...syncs].map((d) => this.#fs.syncDir(d)));
  }

  /** Move a conversation's log (and its `.torn` side file) to the archive; both directories are fsynced. @throws {SessionNotFoundError} */
  async archive(id: string): Promise<void> {
    await this.#move(id, true);
    await this.#index.append([{ id: assertConversationId(id), arch: true }], false);
  }

  /** Move a conversation's log back from the archive. @throws {SessionNotFoundError} */
  async unarchive(id: string): Promise<void> {
    await this.#move(id, false);
    await this.#index.append([{ id: assertConversationId(id), arch: false }], false);
  }

  /** Remove a conversation's log, its `.torn` side file and its lease for good; its directory is fsynced. @throws {SessionNotFoundError} */
  async delete(id: string): Promise<void> {
    const { path } = await this.#locate(id);
    await this.#logs.discard(id);
    await this.#fs.unlink(path);
    if (await this.#fs.exists(`${path}.torn`)) await this.#fs.unlink(`${path}.torn`);
    await this.#leases.remove(id);
    await this.#index.append([{ id: assertConversationId(id), del: true }], false).catch(() => {});
    await this.#fs.syncDir(join(path, '..'));
  }

  /** Close the conversation's log unless an append is using it, and give up its lease. */
  async release(id: string): Promise<void> {
    await this.#logs.release(id);
    await this.#leases.release(id);
  }

  /** Wait for the I/O under way, close every log (fsyncing unsynced ones), close the history and give up every lease. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#logs.closeAll();
    await this.history.close();
    await this.#leases.releaseAll();
  }
}
