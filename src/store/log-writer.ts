/**
 * The file store's group commit: the records of many conversations at once, each log one
 * `write` and, for durability `sync`, one `fdatasync`, and every directory that gained a file
 * fsynced once, before anything is acknowledged. I/O runs with bounded concurrency (the
 * store's `p-queue`). A failed append is cut back to the log's previous size, so a log never
 * keeps half a commit; a log the commit created and could not make durable is removed. A new
 * log is written in `sessions/.creating` and renamed into its day's directory once its header
 * is written (and fdatasynced for `sync`), so a crash never leaves a log without a header there.
 *
 * fsyncs run on libuv's thread pool (4 threads unless `UV_THREADPOOL_SIZE` is set before
 * the first I/O); with many conversations, a larger pool lets more fsyncs overlap.
 */
import { join } from 'node:path';
import type PQueue from 'p-queue';
import { ColloquyError, StoreError } from '../errors.js';
import { assertConversationId, isConversationId } from '../protocol/ids.js';
import type { LogRecord } from '../protocol/records.js';
import { APPEND_FLAGS, CREATE_FLAGS, describeError, type FileSystem } from './fs.js';
import type { LeaseManager } from './lease.js';
import type { LogLocator } from './log-locator.js';
import { checkTail } from './log-tail.js';
import type { OpenLog, OpenLogs } from './open-logs.js';
import { DIR_MODE, type StorePaths } from './paths.js';
import type { CommitEntry, CommitOptions, CommitOutcome, LogIssue, ReadMode } from './store.js';

/** What a `LogWriter` works with: the store's file system, layout, leases, open logs and I/O queue. */
export interface LogWriterOptions {
  readonly fs: FileSystem;
  readonly paths: StorePaths;
  readonly leases: LeaseManager;
  readonly logs: OpenLogs;
  readonly locator: LogLocator;
  readonly queue: PQueue;
  /** Where torn tails repaired before an append are reported. */
  readonly report: (issue: LogIssue) => void;
  /** The store's read mode, which the tail check follows (see `checkTail`). Default `strict`. */
  readonly mode?: ReadMode;
}

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

/** Appends the records of commits to their logs (see the module doc). */
export class LogWriter {
  readonly #fs: FileSystem;
  readonly #paths: StorePaths;
  readonly #leases: LeaseManager;
  readonly #logs: OpenLogs;
  readonly #locator: LogLocator;
  readonly #queue: PQueue;
  readonly #report: (issue: LogIssue) => void;
  readonly #mode: ReadMode;

  constructor(options: LogWriterOptions) {
    this.#mode = options.mode ?? 'strict';
    this.#fs = options.fs;
    this.#paths = options.paths;
    this.#leases = options.leases;
    this.#logs = options.logs;
    this.#locator = options.locator;
    this.#queue = options.queue;
    this.#report = options.report;
  }

  /**
   * Append each entry's records to its log, as one group commit: one outcome per entry, in
   * order. Never rejects for one log's failure: that is its outcome (`seq_mismatch`,
   * `store_error`, `corrupt_log`…). With durability `batched`, schedules the background fsync.
   */
  async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
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
        await this.#logs.discard(outcome.conversationId, true);
        outcomes[index] = {
          conversationId: outcome.conversationId,
          ok: false,
          firstSeq: first,
          error: { message: `could not sync directory ${dir}: ${reason}`, code: 'store_error' },
        };
      }
    }
    if (options.durability === 'batched') this.#logs.scheduleFsync(options.fsyncIntervalMs ?? 100);
    return outcomes;
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
    let writer: OpenLog | undefined;
    let path = '';
    try {
      // Fencing: only the lease holder appends, and it checks it still is before every append.
      if (this.#leases.held(id)) await this.#leases.verify(id);
      else {
        // A writer that lost the lease does not take it back by appending: it is told, every time.
        this.#leases.assertNotLost(id);
        await this.#leases.acquire(id);
      }
      writer = this.#logs.byId.get(id) ?? (await this.#open(id, first));
      path = writer.path;
      writer.busy++;
      this.#logs.touch(writer);
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
      if (writer.target !== undefined) await this.#place(writer, dirs, onCreate);
      writer.nextSeq = last.seq + 1;
      writer.busy--;
      this.#logs.evict();
      return { conversationId: id, ok: true, lastSeq: last.seq };
    } catch (err) {
      if (writer) {
        writer.busy--;
        // A log this commit created holds nothing acknowledged: remove it, so a retry can create it again.
        await this.#logs.discard(id, writer.size === 0 || writer.target !== undefined);
      }
      // A log being created is named where it goes.
      const where = writer?.target ?? (path || (isConversationId(id) ? this.#paths.log(id, false) : id));
      return { conversationId: id, ok: false, firstSeq: first.seq, error: failureOf(err, where) };
    }
  }

  /**
   * Move a new log, its header written (and fdatasynced for durability `sync`), from `.creating`
   * to its day's directory (made when missing, the directories made noted in `dirs` for the
   * fsync, as the day's directory itself). Until then no listing or read finds a log there.
   */
  async #place(writer: OpenLog, dirs: Set<string>, onCreate: (dir: string) => void): Promise<void> {
    const target = writer.target as string;
    const dir = join(target, '..');
    try {
      await this.#fs.rename(writer.path, target);
    } catch (err) {
      // The day's directory is made when missing (not once per conversation).
      if ((err as NodeJS.ErrnoException | null)?.code !== 'ENOENT') throw err;
      const made = await this.#fs.mkdirp(dir, DIR_MODE);
      for (const d of made) dirs.add(join(d, '..'));
      await this.#fs.rename(writer.path, target);
    }
    writer.path = target;
    delete writer.target;
    dirs.add(dir);
    onCreate(dir);
  }

  /**
   * Open a conversation's log for appending: a `session_meta` first record creates it in the
   * `.creating` directory (see `CREATING_DIR`; `#place` moves it into its day's directory once
   * its header is written); otherwise the existing log is found and its tail checked (see
   * `checkTail`).
   */
  async #open(id: string, first: LogRecord): Promise<OpenLog> {
    assertConversationId(id);
    if (first.type === 'session_meta') {
      const target = this.#paths.log(id, false);
      // As an exclusive create would: a log that exists is never replaced (the lease makes this check enough).
      if (await this.#fs.exists(target)) throw Object.assign(new Error(`EEXIST: the log already exists: ${target}`), { code: 'EEXIST' });
      const path = this.#paths.creating(id);
      let fd: number;
      try {
        fd = await this.#logs.openFd(path, CREATE_FLAGS);
      } catch (err) {
        if ((err as NodeJS.ErrnoException | null)?.code !== 'ENOENT') throw err;
        await this.#fs.mkdirp(this.#paths.creatingDir(), DIR_MODE);
        fd = await this.#logs.openFd(path, CREATE_FLAGS);
      }
      const writer: OpenLog = { id, fd, path, archived: false, size: 0, nextSeq: first.seq, busy: 0, dirty: false, failure: null, target };
      this.#logs.add(writer);
      return writer;
    }
    const { path, archived } = await this.#locator.locate(id);
    const fd = await this.#logs.openFd(path, APPEND_FLAGS);
    try {
      const { size, nextSeq } = await checkTail(this.#fs, fd, path, this.#report, { nextSeq: first.seq, mode: this.#mode });
      const writer: OpenLog = { id, fd, path, archived, size, nextSeq, busy: 0, dirty: false, failure: null };
      this.#logs.add(writer);
      return writer;
    } catch (err) {
      await this.#fs.close(fd).catch(() => {});
      throw err;
    }
  }
}
