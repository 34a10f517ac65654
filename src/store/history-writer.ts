/**
 * Writing the message history: appends made in one tick are batched into one `write` of
 * whole lines, on a descriptor opened with `O_APPEND | O_CREAT` and mode 0600 (a broader mode
 * is put back to 0600, as Codex's `ensure_owner_only_permissions`), under the history's lock;
 * a file grown past `maxBytes` is then trimmed under the same lock. After a torn last line the
 * next write starts on a new line; a failed write is cut back, so no partial line remains.
 */
import { ColloquyError, StoreError } from '../errors.js';
import { APPEND_OR_CREATE_FLAGS, describeError, type FileSystem } from './fs.js';
import { entryLine, newEntry, type HistoryInput } from './history-entries.js';
import type { HistoryIssueListener } from './history-issues.js';
import { NEWLINE, readAt } from './history-lines.js';
import { lockHistory, type HeldLock, type HistoryLockSettings } from './history-lock.js';
import { trimLocked, type TrimTarget } from './history-trim.js';
import { DIR_MODE, FILE_MODE } from './paths.js';
import type { HistoryEntry } from './store.js';

/** What a `HistoryWriter` writes and how. */
export interface HistoryWriterOptions {
  readonly fs: FileSystem;
  /** The directory of the history (created if missing, mode 0700). */
  readonly home: string;
  /** The history file. */
  readonly path: string;
  /** Its lock directory. */
  readonly lockPath: string;
  /** Trim once the file exceeds this many bytes; `undefined` for never. */
  readonly maxBytes: number | undefined;
  readonly lock: HistoryLockSettings;
  readonly onIssue: HistoryIssueListener;
}

/** An append waiting for the next batch. */
interface Pending {
  readonly entry: HistoryEntry;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The writing side of a `MessageHistory`: batches of appends, direct writes (a store's
 * commit), trims. Entries are checked by the caller; this writes them.
 */
export class HistoryWriter {
  readonly #fs: FileSystem;
  readonly #home: string;
  readonly #path: string;
  readonly #lockPath: string;
  readonly #maxBytes: number | undefined;
  readonly #lockSettings: HistoryLockSettings;
  readonly #onIssue: HistoryIssueListener;
  readonly #trimTarget: TrimTarget;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;

  constructor(options: HistoryWriterOptions) {
    this.#fs = options.fs;
    this.#home = options.home;
    this.#path = options.path;
    this.#lockPath = options.lockPath;
    this.#maxBytes = options.maxBytes;
    this.#lockSettings = options.lock;
    this.#onIssue = options.onIssue;
    this.#trimTarget = { fs: options.fs, home: options.home, path: options.path, tempPath: `${options.path}.trim` };
  }

  /**
   * Add entries to the batch written at the end of this tick (one write for all the tick's
   * entries). Resolves once they are in the file (not fsynced).
   * @throws {HistoryLockedError} (rejects) when the lock cannot be taken (nothing was written).
   * @throws {StoreError} (rejects) when the file cannot be written (nothing was written) or the writer is closed.
   */
  enqueue(entries: HistoryEntry[]): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (entries.length === 0) return Promise.resolve();
    const done = entries.map(
      (entry) =>
        new Promise<void>((resolve, reject) => {
          this.#pending.push({ entry, resolve, reject });
        }),
    );
    if (!this.#flushing) this.#flushing = this.#drain();
    return Promise.all(done).then(() => undefined);
  }

  /**
   * Write entries for `inputs` now, in one write of whole lines, after every earlier append;
   * with `sync`, fsynced before this resolves. Resolves with the entries written.
   * @throws {HistoryLockedError} when the lock cannot be taken (nothing was written).
   * @throws {StoreError} when the file cannot be written (nothing was written) or the writer is closed.
   */
  async write(inputs: readonly HistoryInput[], sync: boolean): Promise<HistoryEntry[]> {
    if (this.#closed) throw this.#closedError();
    await this.flush();
    const entries = inputs.map(newEntry);
    await this.#writeBatch(entries, sync);
    return entries;
  }

  /** Wait until every append made so far has been written or has failed. Never rejects. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Trim now if the file exceeds `maxBytes`. Resolves with whether it trimmed.
   * @throws {HistoryLockedError} when the lock cannot be taken.
   * @throws {StoreError} when the trim fails; the old file is left as it was.
   */
  async trim(): Promise<boolean> {
    if (this.#maxBytes === undefined) return false;
    await this.#fs.mkdirp(this.#home, DIR_MODE);
    const held = await this.#lock();
    try {
      const fd = await this.#openForAppend().catch((err: unknown) => {
        throw new StoreError(`could not open the message history ${this.#path}: ${describeError(err)}`, { path: this.#path, cause: err });
      });
      try {
        const size = await this.#fs.fstatSize(fd);
        return await trimLocked(this.#trimTarget, fd, size, this.#maxBytes, held);
      } finally {
        await this.#fs.close(fd).catch(() => {});
      }
    } finally {
      await held.release().catch(() => {});
    }
  }

  /** Stop accepting entries and wait for those enqueued so far. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #closedError(): StoreError {
    return new StoreError(`the message history ${this.#path} is closed`, { path: this.#path });
  }

  #lock(): Promise<HeldLock> {
    return lockHistory(this.#path, this.#lockPath, this.#lockSettings, this.#onIssue);
  }

  /** Write batches until none is waiting: one tick's appends per batch. */
  async #drain(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#writeBatch(batch.map((p) => p.entry));
        for (const p of batch) p.resolve();
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    this.#flushing = null;
  }

  /** Open the history for appending (creating it 0600), and put its mode back to 0600 if broader. */
  async #openForAppend(): Promise<number> {
    const fd = await this.#fs.open(this.#path, APPEND_OR_CREATE_FLAGS, FILE_MODE);
    try {
      const mode = await this.#fs.fstatMode(fd);
      if ((mode & 0o777) !== FILE_MODE) await this.#fs.fchmod(fd, FILE_MODE);
      return fd;
    } catch (err) {
      await this.#fs.close(fd).catch(() => {});
      throw err;
    }
  }

  /** One write of whole lines under the lock, then a trim if the file grew past `maxBytes`. */
  async #writeBatch(entries: readonly HistoryEntry[], sync = false): Promise<void> {
    try {
      await this.#fs.mkdirp(this.#home, DIR_MODE);
    } catch (err) {
      throw new StoreError(`could not create ${this.#home}: ${describeError(err)}`, { path: this.#home, cause: err });
    }
    const held = await this.#lock();
    try {
      const fd = await this.#openForAppend();
      try {
        const size = await this.#appendLines(fd, entries);
        if (sync) await this.#fs.fsync(fd);
        if (this.#maxBytes !== undefined && size > this.#maxBytes) {
          await trimLocked(this.#trimTarget, fd, size, this.#maxBytes, held).catch((err: unknown) => {
            this.#onIssue({ kind: 'trim_failed', path: this.#path, offset: size, detail: `${describeError(err)}; the old file is intact, the next append tries again` });
          });
        }
      } finally {
        await this.#fs.close(fd).catch(() => {});
      }
    } catch (err) {
      if (err instanceof ColloquyError) throw err;
      throw new StoreError(`could not append to the message history ${this.#path}: ${describeError(err)}`, { path: this.#path, cause: err });
    } finally {
      await held.release().catch(() => {});
    }
  }

  /**
   * Append the lines in one write; after a torn last line, start with a newline so the new
   * lines stay whole. A failed write is cut back, so no partial line remains. Resolves with
   * the new size (bytes).
   */
  async #appendLines(fd: number, entries: readonly HistoryEntry[]): Promise<number> {
    const size = await this.#fs.fstatSize(fd);
    const torn = size > 0 && (await readAt(this.#fs, fd, Buffer.alloc(1), 1, size - 1))[0] !== NEWLINE;
    const data = Buffer.from(`${torn ? '\n' : ''}${entries.map(entryLine).join('')}`, 'utf8');
    try {
      await this.#fs.writeAll(fd, data);
    } catch (err) {
      await this.#fs.ftruncate(fd, size).catch(() => {});
      throw err;
    }
    if (torn) this.#onIssue({ kind: 'torn_tail', path: this.#path, offset: size, detail: 'the last line had no newline; new entries start on the next line' });
    return size + data.length;
  }
}
