/**
 * The global message history (SPEC §5): every user message of every conversation, one JSONL
 * line each, in `<home>/history.jsonl`, as Codex's `core/src/message_history.rs`:
 *
 *   {"id":"01J…","session_id":"01J…","ts":1718000000,"text":"…"}
 *
 * - `id` is a ULID, assigned when the entry is appended: unique, time-ordered, and stable:
 *   it survives trims (Codex addresses entries by line offset, which shifts after a trim).
 * - `ts` is Unix time in **seconds**, as Codex's.
 *
 * Writing: appends made in one tick are batched into one `write` of whole lines, on a
 * descriptor opened with `O_APPEND | O_CREAT` and mode 0600 (a broader mode is put back to
 * 0600, as Codex's `ensure_owner_only_permissions`), under an advisory lock taken with
 * bounded retries (25 tries 100 ms apart by default; Codex's are 10; `proper-lockfile`, a lock
 * directory `history.jsonl.lock`). The file store writes the messages of a commit with `write`, in the
 * same commit as their records, fsynced when the commit's durability is `sync`.
 *
 * Trimming: with `maxBytes` set, a file grown past it is cut to at most 80% of it (Codex's
 * soft cap), dropping the oldest whole lines and always keeping the newest one. The kept lines
 * are copied to `history.jsonl.trim`, which is fsynced and renamed over the history, and the
 * directory is fsynced: a crash at any point leaves the old file or the new one, both
 * complete (Codex rewrites the file in place, so a crash mid-trim loses it).
 *
 * Reading takes no lock: a reader reads the file it opened (a trim replaces the file, it
 * never changes it), newest line first, in fixed-size chunks from the end, so memory is one
 * chunk plus the longest line, and a read with a limit stops early. A last line without its
 * newline (a crash mid-write, or an append still in progress) is skipped and reported; so
 * are lines that are not entries. The next append starts on a new line after a torn one.
 *
 * This module is the facade: `MessageHistory` composes `history-writer.ts` (batches, the
 * lock of `history-lock.ts`, trims of `history-trim.ts`) and `history-reader.ts` (the
 * backward line reader of `history-lines.ts`, the entries of `history-entries.ts`).
 */
import { join } from 'node:path';
import { InvalidOpError, type Issue } from '../errors.js';
import { describeError, nodeFileSystem, type FileSystem } from './fs.js';
import { inputIssues, newEntry, type HistoryInput } from './history-entries.js';
import { warnHistoryIssue, type HistoryIssue, type HistoryIssueListener } from './history-issues.js';
import { HISTORY_LOCK_ATTEMPTS, HISTORY_LOCK_RETRY_MS, HISTORY_LOCK_STALE_MS } from './history-lock.js';
import { HistoryReader } from './history-reader.js';
import { HistoryWriter } from './history-writer.js';
import type { HistoryEntry, HistoryQuery, MessageHistoryReader } from './store.js';

export type { HistoryEntry, HistoryQuery } from './store.js';
export { newEntry, parseHistoryLine, queryIssues, type HistoryInput } from './history-entries.js';
export type { HistoryIssue } from './history-issues.js';
export { HISTORY_LOCK_ATTEMPTS, HISTORY_LOCK_RETRY_MS, HISTORY_LOCK_STALE_MS, HistoryLockedError } from './history-lock.js';
export { HISTORY_SOFT_CAP_RATIO } from './history-trim.js';

/** The history's file name under the home directory, as Codex's. */
export const HISTORY_FILE = 'history.jsonl';

/** What to record, as Codex's `[history] persistence`: everything (default) or nothing. */
export type HistoryPersistence = 'save-all' | 'none';

/** Options of `MessageHistory`. */
export interface MessageHistoryOptions {
  /** The directory of `history.jsonl` (created if missing, mode 0700). */
  readonly home: string;
  /** Trim the file once it exceeds this many bytes (to 80% of it). Default: unbounded, as Codex's `max_bytes`. */
  readonly maxBytes?: number;
  /** `save-all` (default) records appends; `none` records nothing, as Codex's `[history] persistence`. */
  readonly persistence?: HistoryPersistence;
  /** File-system calls (replace to inject faults). Default `nodeFileSystem`. */
  readonly fs?: FileSystem;
  /** Tries to take the lock. Default 25 (`HISTORY_LOCK_ATTEMPTS`; Codex tries 10 times). */
  readonly lockAttempts?: number;
  /** Wait between tries (ms). Default 100 (`HISTORY_LOCK_RETRY_MS`), as Codex's. */
  readonly lockRetryMs?: number;
  /** A lock left by a crashed holder is taken over after this long (ms; at least 2,000). Default 2,000 (`HISTORY_LOCK_STALE_MS`). */
  readonly lockStaleMs?: number;
  /**
   * Called for everything that is not a clean read or write (see `HistoryIssue`). Default:
   * `trim_failed`, `lock_compromised` and `write_failed` become process warnings; the others are ignored.
   */
  readonly onIssue?: (issue: HistoryIssue) => void;
}

/**
 * The global message history over `<home>/history.jsonl` (see the module doc). Safe to use
 * from several processes at once; use one instance per home in a process so appends batch.
 */
export class MessageHistory implements MessageHistoryReader {
  /** The history file. */
  readonly path: string;
  /** The lock directory next to it. */
  readonly lockPath: string;
  /** The size cap (bytes), or `undefined` for none. */
  readonly maxBytes: number | undefined;
  /** Whether appends are recorded. */
  readonly persistence: HistoryPersistence;
  readonly #onIssue: HistoryIssueListener;
  readonly #writer: HistoryWriter;
  readonly #reader: HistoryReader;

  /** @throws {InvalidOpError} when `maxBytes` or the lock settings are not positive integers, or `persistence` is neither value. */
  constructor(options: MessageHistoryOptions) {
    const issues: Issue[] = [];
    const positive = (name: keyof MessageHistoryOptions, value: number | undefined): void => {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) issues.push({ path: [name], message: 'expected a positive integer' });
    };
    positive('maxBytes', options.maxBytes);
    positive('lockAttempts', options.lockAttempts);
    positive('lockRetryMs', options.lockRetryMs);
    positive('lockStaleMs', options.lockStaleMs);
    if (options.persistence !== undefined && options.persistence !== 'save-all' && options.persistence !== 'none') {
      issues.push({ path: ['persistence'], message: 'expected "save-all" or "none"' });
    }
    if (issues.length > 0) throw new InvalidOpError(issues, 'history options');
    this.path = join(options.home, HISTORY_FILE);
    this.lockPath = `${this.path}.lock`;
    this.maxBytes = options.maxBytes;
    this.persistence = options.persistence ?? 'save-all';
    this.#onIssue = options.onIssue ?? warnHistoryIssue;
    const fs = options.fs ?? nodeFileSystem;
    this.#writer = new HistoryWriter({
      fs,
      home: options.home,
      path: this.path,
      lockPath: this.lockPath,
      maxBytes: this.maxBytes,
      lock: {
        attempts: options.lockAttempts ?? HISTORY_LOCK_ATTEMPTS,
        retryMs: options.lockRetryMs ?? HISTORY_LOCK_RETRY_MS,
        staleMs: Math.max(options.lockStaleMs ?? HISTORY_LOCK_STALE_MS, 2_000),
      },
      onIssue: this.#onIssue,
    });
    this.#reader = new HistoryReader({ fs, path: this.path, onIssue: this.#onIssue, flush: () => this.flush() });
  }

  // ——— writing ———

  /**
   * Record one message. Cheap: it joins the batch written at the end of this tick. Resolves
   * with the entry once it is in the file (not fsynced), or with `null` under persistence
   * `none`. Handle the promise: it rejects if the batch cannot be written.
   * @throws {InvalidOpError} (synchronously) when `sessionId` or `text` is not valid.
   * @throws {HistoryLockedError} (rejects) when the lock cannot be taken (nothing was written).
   * @throws {StoreError} (rejects) when the file cannot be written (nothing was written) or the history is closed.
   */
  append(sessionId: string, text: string): Promise<HistoryEntry | null> {
    const issues = inputIssues({ sessionId, text }, null);
    if (issues.length > 0) throw new InvalidOpError(issues, 'history entry');
    if (this.persistence === 'none') return Promise.resolve(null);
    const entry = newEntry({ sessionId, text });
    return this.#writer.enqueue([entry]).then(() => entry);
  }

  /**
   * Record many messages in order, in the same batch (one write). Resolves with their
   * entries (`[]` under persistence `none`). Errors as `append`.
   * @throws {InvalidOpError} (synchronously) naming the first bad input, e.g. `[2].text`.
   */
  appendMany(inputs: readonly HistoryInput[]): Promise<HistoryEntry[]> {
    const issues = inputs.flatMap((input, index) => inputIssues(input, index));
    if (issues.length > 0) throw new InvalidOpError(issues, 'history entries');
    if (this.persistence === 'none') return Promise.resolve([]);
    const entries = inputs.map(newEntry);
    return this.#writer.enqueue(entries).then(() => entries);
  }

  /**
   * Write these messages now, in one write of whole lines, after every earlier append: what a
   * store's commit calls (its batch is already one). With `sync`, the file is fsynced before
   * this resolves. Errors as `append` (all as rejections); `[]` under persistence `none`.
   */
  async write(inputs: readonly HistoryInput[], options: { readonly sync?: boolean } = {}): Promise<HistoryEntry[]> {
    const issues = inputs.flatMap((input, index) => inputIssues(input, index));
    if (issues.length > 0) throw new InvalidOpError(issues, 'history entries');
    if (this.persistence === 'none' || inputs.length === 0) return [];
    return this.#writer.write(inputs, options.sync === true);
  }

  /** Report that the messages of a commit (`count` of them) could not be written: a `write_failed` issue. */
  reportWriteFailure(error: unknown, count: number): void {
    this.#onIssue({ kind: 'write_failed', path: this.path, offset: 0, detail: `${count} message${count === 1 ? '' : 's'} not recorded: ${describeError(error)}` });
  }

  /** Wait until every append made so far has been written or has failed. Never rejects. */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /**
   * Trim now if the file exceeds `maxBytes` (appends do this themselves; this is for a retry
   * after a failed trim). Resolves with whether it trimmed.
   * @throws {HistoryLockedError} when the lock cannot be taken.
   * @throws {StoreError} when the trim fails; the old file is left as it was.
   */
  trim(): Promise<boolean> {
    return this.#writer.trim();
  }

  /** Stop accepting appends and wait for those made so far. Idempotent. */
  close(): Promise<void> {
    return this.#writer.close();
  }

  // ——— reading ———

  /**
   * The entries, newest first, streamed from the end of the file (memory: one chunk plus the
   * longest line). Waits for this instance's pending appends first. Lines that are not
   * entries, and a torn last line, are skipped and reported to `onIssue`.
   * @throws {InvalidOpError} when the query is not valid.
   * @throws {StoreError} when the file cannot be read (a missing file has no entries).
   */
  entries(query: HistoryQuery = {}): AsyncGenerator<HistoryEntry> {
    return this.#reader.entries(query);
  }

  /**
   * The newest entries first, at most `limit` (default 100), optionally of one conversation.
   * @throws {InvalidOpError} when the query is not valid.
   * @throws {StoreError} when the file cannot be read.
   */
  list(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return this.#reader.list(query);
  }

  /**
   * The entry with this id, or `null` (unknown, trimmed away, or not an id). Ids are
   * case-insensitive. Scans from the newest entry back.
   * @throws {StoreError} when the file cannot be read.
   */
  lookup(id: string): Promise<HistoryEntry | null> {
    return this.#reader.lookup(id);
  }

  /**
   * Entries whose text contains `text` (case-insensitive), newest first, at most `limit`
   * (default 100), optionally of one conversation. An empty `text` matches every entry.
   * @throws {InvalidOpError} when `text` is not a string or the query is not valid.
   * @throws {StoreError} when the file cannot be read.
   */
  search(text: string, query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return this.#reader.search(text, query);
  }
}
