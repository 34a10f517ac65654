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
 * bounded retries (10 tries 100 ms apart, as Codex's; `proper-lockfile`, a lock directory
 * `history.jsonl.lock`). The file store writes the messages of a commit with `write`, in the
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
 */
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { ColloquyError, InvalidOpError, StoreError, type Issue } from '../errors.js';
import { APPEND_OR_CREATE_FLAGS, describeError, errnoOf, nodeFileSystem, READ_FLAGS, REPLACE_FLAGS, type FileSystem } from './fs.js';
import { pooledUlidFactory } from '../protocol/ids.js';
import { DIR_MODE, FILE_MODE } from './paths.js';
import type { HistoryEntry, HistoryQuery, MessageHistoryReader } from './store.js';

export type { HistoryEntry, HistoryQuery } from './store.js';

/** The history's file name under the home directory, as Codex's. */
export const HISTORY_FILE = 'history.jsonl';
/** A trim cuts the file to at most this fraction of `maxBytes` (Codex's `HISTORY_SOFT_CAP_RATIO`). */
export const HISTORY_SOFT_CAP_RATIO = 0.8;
/**
 * Tries to take the lock before giving up: Codex's 10 × 100 ms, extended to outlast a lock
 * left by a process that was killed while holding it (stale after `HISTORY_LOCK_STALE_MS`).
 */
export const HISTORY_LOCK_ATTEMPTS = 25;
/** Wait between two tries to take the lock (ms), as Codex's `RETRY_SLEEP`. */
export const HISTORY_LOCK_RETRY_MS = 100;
/**
 * A lock directory not refreshed for this long is left over from a crash and is taken over
 * (ms; `proper-lockfile`'s minimum). The lock is held for one write or one trim.
 */
export const HISTORY_LOCK_STALE_MS = 2_000;

/** Bytes read (or copied) per chunk. */
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const HISTORY_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;
const nextId = pooledUlidFactory();

/** What to record, as Codex's `[history] persistence`: everything (default) or nothing. */
export type HistoryPersistence = 'save-all' | 'none';

/**
 * Something found or done that is not a clean read or write. `offset` is the byte offset of
 * the line concerned (0-based; the file size for a trim). `detail` never quotes content.
 * - `torn_tail`: the last line has no newline (a crash mid-write, or an append in progress);
 *   skipped by reads; the next append starts a new line after it.
 * - `bad_line`: a line that is not an entry; skipped.
 * - `trim_failed`: a trim after an append failed; the old file is intact and the appended
 *   entries are in it; the next append tries again.
 * - `lock_compromised`: the lock was taken over while held (this process stalled past the
 *   stale time); a trim in progress is abandoned.
 * - `write_failed`: the messages of a store's commit could not be written (the lock stayed
 *   taken, the disk is full); the commit's records are durable, these messages are not recalled.
 */
export interface HistoryIssue {
  readonly kind: 'torn_tail' | 'bad_line' | 'trim_failed' | 'lock_compromised' | 'write_failed';
  readonly path: string;
  readonly offset: number;
  readonly detail: string;
}

/**
 * The history's lock could not be taken: another process held it through every try
 * (`attempts` tries, `retryMs` apart). Nothing was written; the entries may be appended again.
 */
export class HistoryLockedError extends ColloquyError {
  /** The history file. */
  readonly path: string;
  /** The lock directory. */
  readonly lockPath: string;
  /** Tries made. */
  readonly attempts: number;
  constructor(path: string, lockPath: string, attempts: number, retryMs: number, staleMs: number) {
    super(
      'history_locked',
      `could not lock the message history ${path}: another process held ${lockPath} through ${attempts} tries ${retryMs} ms apart; ` +
        `try again, or, if no other Colloquy process is running, the lock is left over from a crash and is taken over ${Math.round(staleMs / 1000)} s after its holder stopped (or remove ${lockPath})`,
    );
    this.path = path;
    this.lockPath = lockPath;
    this.attempts = attempts;
  }
}

/** Options of `MessageHistory`. */
export interface MessageHistoryOptions {
  /** The directory of `history.jsonl` (created if missing, mode 0700). */
  readonly home: string;
  /** Trim the file once it exceeds this many bytes (to 80% of it). Default: unbounded, as Codex's `max_bytes`. */
  readonly maxBytes?: number;
  /** `save-all` (default) records appends; `none` records nothing, as Codex's `[history] persistence`. */
  readonly persistence?: HistoryPersistence;
  /** File-system calls (replace to inject faults). */
  readonly fs?: FileSystem;
  /** Tries to take the lock. Default 25 (`HISTORY_LOCK_ATTEMPTS`; Codex tries 10 times). */
  readonly lockAttempts?: number;
  /** Wait between tries (ms). Default 100, as Codex's. */
  readonly lockRetryMs?: number;
  /** A lock left by a crashed holder is taken over after this long (ms; at least 2,000). Default 10,000. */
  readonly lockStaleMs?: number;
  /**
   * Called for everything that is not a clean read or write (see `HistoryIssue`). Default:
   * `trim_failed` and `lock_compromised` become process warnings; the others are ignored.
   */
  readonly onIssue?: (issue: HistoryIssue) => void;
}

/** What to append: a message sent in a conversation. */
export interface HistoryInput {
  /** The conversation (any non-empty string up to 256 characters; Codex's are UUIDs). */
  readonly sessionId: string;
  readonly text: string;
}

/** An append waiting for the next batch. */
interface Pending {
  readonly entry: HistoryEntry;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/** A lock held by this process. */
interface HeldLock {
  release: () => Promise<void>;
  compromised: Error | null;
}

/** A line read back, with where it starts and whether its newline was there. */
interface RawLine {
  readonly offset: number;
  readonly text: string;
  readonly terminated: boolean;
}

/** Problems with one input to append (empty when it is valid). */
function inputIssues(input: HistoryInput, index: number | null): Issue[] {
  const at = (field: string): (string | number)[] => (index === null ? [field] : [index, field]);
  const issues: Issue[] = [];
  const { sessionId, text } = (input ?? {}) as Partial<HistoryInput>;
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 256) {
    issues.push({ path: at('sessionId'), message: 'expected a non-empty string of at most 256 characters' });
  }
  if (typeof text !== 'string') issues.push({ path: at('text'), message: `expected string, got ${typeof text}` });
  return issues;
}

/** Problems with a query (empty when it is valid). */
export function queryIssues(query: HistoryQuery): Issue[] {
  const issues: Issue[] = [];
  if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit > 0)) {
    issues.push({ path: ['limit'], message: 'expected a positive integer' });
  }
  if (query.sessionId !== undefined && typeof query.sessionId !== 'string') {
    issues.push({ path: ['sessionId'], message: 'expected string' });
  }
  return issues;
}

/** A new entry, stamped now. */
export function newEntry(input: HistoryInput): HistoryEntry {
  const now = Date.now();
  return { id: nextId(now), sessionId: input.sessionId, ts: Math.floor(now / 1000), text: input.text };
}

/** The JSONL line of an entry, as Codex's plus `id`. */
function lineOf(entry: HistoryEntry): string {
  return `${JSON.stringify({ id: entry.id, session_id: entry.sessionId, ts: entry.ts, text: entry.text })}\n`;
}

/** A line parsed into an entry, or why it is not one (never quoting it). */
export function parseHistoryLine(text: string): HistoryEntry | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'not an object' };
  const { id, session_id: sessionId, ts, text: message } = value as Record<string, unknown>;
  if (typeof id !== 'string' || !HISTORY_ID.test(id)) return { reason: 'id: expected a ULID' };
  if (typeof sessionId !== 'string') return { reason: 'session_id: expected string' };
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return { reason: 'ts: expected a number' };
  if (typeof message !== 'string') return { reason: 'text: expected string' };
  return { id: id.toUpperCase(), sessionId, ts, text: message };
}

/** Read exactly `length` bytes at `position` (fewer only at the end of the file). */
async function readAt(hfs: FileSystem, fd: number, buffer: Buffer, length: number, position: number): Promise<Buffer> {
  let got = 0;
  while (got < length) {
    const n = await hfs.read(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

/**
 * The lines of the first `size` bytes of a file, last first, read in chunks from the end.
 * The first line yielded is what follows the last newline: `terminated: false`, usually empty.
 */
async function* linesBackward(hfs: FileSystem, fd: number, size: number): AsyncGenerator<RawLine> {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let pieces: Buffer[] = []; // the end of a line that starts in an earlier chunk
  let terminated = false;
  for (let pos = size; pos > 0; ) {
    const length = Math.min(CHUNK_BYTES, pos);
    pos -= length;
    const chunk = await readAt(hfs, fd, buffer, length, pos);
    let end = chunk.length;
    for (let nl = end > 0 ? chunk.lastIndexOf(NEWLINE, end - 1) : -1; nl !== -1; nl = end > 0 ? chunk.lastIndexOf(NEWLINE, end - 1) : -1) {
      const text = pieces.length === 0 ? chunk.toString('utf8', nl + 1, end) : Buffer.concat([chunk.subarray(nl + 1, end), ...pieces]).toString('utf8');
      yield { offset: pos + nl + 1, text, terminated };
      pieces = [];
      terminated = true;
      end = nl;
    }
    if (end > 0) pieces.unshift(Buffer.from(chunk.subarray(0, end)));
  }
  if (pieces.length > 0) yield { offset: 0, text: Buffer.concat(pieces).toString('utf8'), terminated };
}

/** Offset of the first newline in `[from, to)`, or -1. */
async function findNewline(hfs: FileSystem, fd: number, from: number, to: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let pos = from; pos < to; pos += CHUNK_BYTES) {
    const chunk = await readAt(hfs, fd, buffer, Math.min(CHUNK_BYTES, to - pos), pos);
    const i = chunk.indexOf(NEWLINE);
    if (i !== -1) return pos + i;
    if (chunk.length === 0) break;
  }
  return -1;
}

/** Offset of the last newline in `[0, to)`, or -1. */
async function findLastNewline(hfs: FileSystem, fd: number, to: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  for (let end = to; end > 0; end -= CHUNK_BYTES) {
    const start = Math.max(0, end - CHUNK_BYTES);
    const chunk = await readAt(hfs, fd, buffer, end - start, start);
    const i = chunk.lastIndexOf(NEWLINE);
    if (i !== -1) return start + i;
  }
  return -1;
}

/**
 * Where the kept part of a `size`-byte file starts when cutting it to `softCap` bytes: the
 * first line starting at or after `size - softCap`; when the newest line alone is longer,
 * that line (as Codex's, which always keeps the newest entry). 0 keeps everything.
 */
async function trimStart(hfs: FileSystem, fd: number, size: number, softCap: number): Promise<number> {
  const cut = size - softCap;
  if (cut <= 0) return 0;
  const nl = await findNewline(hfs, fd, cut - 1, size - 1);
  if (nl !== -1) return nl + 1;
  return (await findLastNewline(hfs, fd, size - 1)) + 1;
}

/** Copy bytes `[from, to)` of one descriptor to another's position. */
async function copyRange(hfs: FileSystem, src: number, dst: number, from: number, to: number): Promise<void> {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES * 4);
  for (let pos = from; pos < to; ) {
    const chunk = await readAt(hfs, src, buffer, Math.min(buffer.length, to - pos), pos);
    if (chunk.length === 0) throw new Error(`the file ended at ${pos} bytes, before ${to}`);
    await hfs.writeAll(dst, chunk);
    pos += chunk.length;
  }
}

function warnIssue(issue: HistoryIssue): void {
  if (issue.kind === 'trim_failed' || issue.kind === 'lock_compromised' || issue.kind === 'write_failed') {
    process.emitWarning(`${issue.path}: ${issue.kind}: ${issue.detail}`, { code: 'COLLOQUY' });
  }
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
  readonly #home: string;
  readonly #tempPath: string;
  readonly #fs: FileSystem;
  readonly #attempts: number;
  readonly #retryMs: number;
  readonly #staleMs: number;
  readonly #onIssue: (issue: HistoryIssue) => void;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;

  /** @throws {InvalidOpError} when `maxBytes` or the lock settings are not positive integers. */
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
    this.#home = options.home;
    this.path = join(options.home, HISTORY_FILE);
    this.lockPath = `${this.path}.lock`;
    this.#tempPath = `${this.path}.trim`;
    this.maxBytes = options.maxBytes;
    this.persistence = options.persistence ?? 'save-all';
    this.#fs = options.fs ?? nodeFileSystem;
    this.#attempts = options.lockAttempts ?? HISTORY_LOCK_ATTEMPTS;
    this.#retryMs = options.lockRetryMs ?? HISTORY_LOCK_RETRY_MS;
    this.#staleMs = Math.max(options.lockStaleMs ?? HISTORY_LOCK_STALE_MS, 2_000);
    this.#onIssue = options.onIssue ?? warnIssue;
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
    return this.#enqueue([entry]).then(() => entry);
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
    return this.#enqueue(entries).then(() => entries);
  }

  /**
   * Write these messages now, in one write of whole lines, after every earlier append: what a
   * store's commit calls (its batch is already one). With `sync`, the file is fsynced before
   * this resolves. Errors as `append`; `[]` under persistence `none`.
   */
  async write(inputs: readonly HistoryInput[], options: { readonly sync?: boolean } = {}): Promise<HistoryEntry[]> {
    const issues = inputs.flatMap((input, index) => inputIssues(input, index));
    if (issues.length > 0) throw new InvalidOpError(issues, 'history entries');
    if (this.persistence === 'none' || inputs.length === 0) return [];
    if (this.#closed) throw new StoreError(`the message history ${this.path} is closed`, { path: this.path });
    await this.flush();
    const entries = inputs.map(newEntry);
    await this.#writeBatch(entries, options.sync === true);
    return entries;
  }

  /** Report that the messages of a commit could not be written (a `write_failed` issue). */
  reportWriteFailure(error: unknown, count: number): void {
    this.#onIssue({ kind: 'write_failed', path: this.path, offset: 0, detail: `${count} message${count === 1 ? '' : 's'} not recorded: ${describeError(error)}` });
  }

  /** Wait until every append made so far has been written or has failed. Never rejects. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  /**
   * Trim now if the file exceeds `maxBytes` (appends do this themselves; this is for a retry
   * after a failed trim, or after lowering `maxBytes`). Resolves with whether it trimmed.
   * @throws {HistoryLockedError} when the lock cannot be taken.
   * @throws {StoreError} when the trim fails; the old file is left as it was.
   */
  async trim(): Promise<boolean> {
    if (this.maxBytes === undefined) return false;
    await this.#fs.mkdirp(this.#home, DIR_MODE);
    const held = await this.#lock();
    try {
      const fd = await this.#openForAppend().catch((err: unknown) => {
        throw new StoreError(`could not open the message history ${this.path}: ${describeError(err)}`, { path: this.path, cause: err });
      });
      try {
        const size = await this.#fs.fstatSize(fd);
        return await this.#trimLocked(fd, size, held);
      } finally {
        await this.#fs.close(fd).catch(() => {});
      }
    } finally {
      await held.release().catch(() => {});
    }
  }

  /** Stop accepting appends and wait for those made so far. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #enqueue(entries: HistoryEntry[]): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError(`the message history ${this.path} is closed`, { path: this.path }));
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
    const fd = await this.#fs.open(this.path, APPEND_OR_CREATE_FLAGS, FILE_MODE);
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
        if (this.maxBytes !== undefined && size > this.maxBytes) {
          await this.#trimLocked(fd, size, held).catch((err: unknown) => {
            this.#onIssue({ kind: 'trim_failed', path: this.path, offset: size, detail: `${describeError(err)}; the old file is intact, the next append tries again` });
          });
        }
      } finally {
        await this.#fs.close(fd).catch(() => {});
      }
    } catch (err) {
      if (err instanceof ColloquyError) throw err;
      throw new StoreError(`could not append to the message history ${this.path}: ${describeError(err)}`, { path: this.path, cause: err });
    } finally {
      await held.release().catch(() => {});
    }
  }

  /**
   * Append the lines in one write; after a torn last line, start with a newline so the new
   * lines stay whole. A failed write is cut back, so no partial line remains. Resolves with
   * the new size.
   */
  async #appendLines(fd: number, entries: readonly HistoryEntry[]): Promise<number> {
    const size = await this.#fs.fstatSize(fd);
    const torn = size > 0 && (await readAt(this.#fs, fd, Buffer.alloc(1), 1, size - 1))[0] !== NEWLINE;
    const data = Buffer.from(`${torn ? '\n' : ''}${entries.map(lineOf).join('')}`, 'utf8');
    try {
      await this.#fs.writeAll(fd, data);
    } catch (err) {
      await this.#fs.ftruncate(fd, size).catch(() => {});
      throw err;
    }
    if (torn) this.#onIssue({ kind: 'torn_tail', path: this.path, offset: size, detail: 'the last line had no newline; new entries start on the next line' });
    return size + data.length;
  }

  /**
   * Under the lock: when `size` exceeds `maxBytes`, copy the newest lines (≤ 80% of it) to
   * the temporary file, fsync it, rename it over the history and fsync the directory.
   * Before the rename, a failure removes the temporary file and leaves the history as it was.
   */
  async #trimLocked(fd: number, size: number, held: HeldLock): Promise<boolean> {
    if (this.maxBytes === undefined || size <= this.maxBytes) return false;
    const start = await trimStart(this.#fs, fd, size, Math.floor(this.maxBytes * HISTORY_SOFT_CAP_RATIO));
    if (start <= 0) return false;
    try {
      await this.#writeTemp(fd, start, size);
      if (held.compromised) throw new Error(`the lock was taken over during the trim (${held.compromised.message})`);
      await this.#fs.rename(this.#tempPath, this.path);
    } catch (err) {
      await this.#fs.unlink(this.#tempPath).catch(() => {});
      throw new StoreError(`could not trim the message history ${this.path}: ${describeError(err)}; it was left as it was`, { path: this.path, cause: err });
    }
    try {
      await this.#fs.syncDir(this.#home);
    } catch (err) {
      throw new StoreError(`trimmed the message history ${this.path}, but could not sync ${this.#home}: ${describeError(err)}`, { path: this.path, cause: err });
    }
    return true;
  }

  /** Write bytes `[start, size)` of the history to the temporary file, mode 0600, fsynced. */
  async #writeTemp(fd: number, start: number, size: number): Promise<void> {
    const out = await this.#fs.open(this.#tempPath, REPLACE_FLAGS, FILE_MODE);
    try {
      await this.#fs.fchmod(out, FILE_MODE);
      await copyRange(this.#fs, fd, out, start, size);
      await this.#fs.fsync(out);
    } finally {
      await this.#fs.close(out).catch(() => {});
    }
  }

  /** Take the lock: `attempts` tries, `retryMs` apart. */
  async #lock(): Promise<HeldLock> {
    const held: HeldLock = { release: async () => {}, compromised: null };
    try {
      held.release = await lockfile.lock(this.path, {
        realpath: false,
        lockfilePath: this.lockPath,
        stale: this.#staleMs,
        retries: { retries: this.#attempts - 1, minTimeout: this.#retryMs, maxTimeout: this.#retryMs, factor: 1 },
        onCompromised: (err) => {
          held.compromised = err;
          this.#onIssue({ kind: 'lock_compromised', path: this.path, offset: 0, detail: err.message });
        },
      });
    } catch (err) {
      if (errnoOf(err) === 'ELOCKED') throw new HistoryLockedError(this.path, this.lockPath, this.#attempts, this.#retryMs, this.#staleMs);
      throw new StoreError(`could not lock the message history ${this.path}: ${describeError(err)}`, { path: this.path, cause: err });
    }
    return held;
  }

  // ——— reading ———

  /**
   * The entries, newest first, streamed from the end of the file (memory: one chunk plus the
   * longest line). Waits for this instance's pending appends first. Lines that are not
   * entries, and a torn last line, are skipped and reported to `onIssue`.
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
   * The entry with this id, or `null` (unknown, trimmed away, or not an id). Ids are
   * case-insensitive. Scans from the newest entry back.
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
   * (default 100), optionally of one conversation. An empty `text` matches every entry.
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
    await this.flush();
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
      throw new StoreError(`could not read the message history ${this.path}: ${describeError(err)}`, { path: this.path, cause: err });
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  /** The file opened for reading, or `null` if there is none yet. */
  async #openForRead(): Promise<number | null> {
    try {
      return await this.#fs.open(this.path, READ_FLAGS);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return null;
      throw new StoreError(`could not open the message history ${this.path}: ${describeError(err)}`, { path: this.path, cause: err });
    }
  }

  /** The entry a line holds, or `null` (blank, torn or bad; the last two reported). */
  #entryOf(line: RawLine): HistoryEntry | null {
    if (line.text.trim() === '') return null;
    if (!line.terminated) {
      this.#onIssue({ kind: 'torn_tail', path: this.path, offset: line.offset, detail: `${Buffer.byteLength(line.text)} bytes without a newline skipped` });
      return null;
    }
    const parsed = parseHistoryLine(line.text);
    if ('reason' in parsed) {
      this.#onIssue({ kind: 'bad_line', path: this.path, offset: line.offset, detail: `skipped: ${parsed.reason}` });
      return null;
    }
    return parsed;
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}
