/**
 * The store: where conversation logs live. The persistence actor is its only writer;
 * resume, read, fork and list read from it.
 */
import type { CommitOutcome } from '../../machines/persistence.machine.js';
import type { ForkOrigin, LogRecord, Metadata } from '../protocol/records.js';

export type { CommitOutcome } from '../../machines/persistence.machine.js';

/**
 * When a commit is acknowledged (SPEC §5): `sync` after the records are fsynced
 * (fdatasync, plus the directory after a log is created); `batched` after they are written,
 * with an fsync at most every `fsyncIntervalMs`; `none` after they are written, leaving the
 * flush to the operating system.
 */
export type Durability = 'sync' | 'batched' | 'none';

/** Records of one conversation to append, contiguous in `seq`. */
export interface CommitEntry {
  readonly conversationId: string;
  readonly records: readonly LogRecord[];
}

/** How a commit must be made durable. */
export interface CommitOptions {
  readonly durability: Durability;
  /** For `batched`: the longest a written record waits for its fsync (ms). Default 100. */
  readonly fsyncIntervalMs?: number;
}

/**
 * Something found while reading a log that is not a clean record: a torn last line
 * (a crash mid-write), a bad line, a `seq` gap or duplicate, a byte-order mark.
 * `line` is 1-based.
 */
export interface LogIssue {
  /**
   * `torn_tail`, `bad_line` (skipped), `seq_gap`, `seq_duplicate` (skipped), `bom` (skipped
   * mark), `bad_header` (a header naming another conversation than its file, kept).
   */
  readonly kind: 'torn_tail' | 'bad_line' | 'seq_gap' | 'seq_duplicate' | 'bom' | 'bad_header';
  readonly path: string;
  readonly line: number;
  readonly detail: string;
}

/**
 * How to treat bad lines in the middle of a log: `strict` (default) fails the read with a
 * `CorruptLogError` naming file and line; `lenient` skips the line and reports it.
 */
export type ReadMode = 'strict' | 'lenient';

/** Options of `Store.read`: the `seq` range to read and how bad lines are treated (`strict` or `lenient`). */
export interface ReadOptions {
  readonly mode?: ReadMode;
  /** Called for every issue found (also in strict mode, for those that are not errors). */
  readonly onIssue?: (issue: LogIssue) => void;
  /** Stop after the record with this `seq`. */
  readonly upToSeq?: number;
  /**
   * Start at the record with this `seq` (the store finds it without reading what comes before,
   * when it can). A log whose records start after it is read from its start.
   */
  readonly fromSeq?: number;
}

/** One conversation as listed. Times are ISO-8601 UTC. */
export interface ConversationSummary {
  readonly id: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly name?: string;
  readonly metadata?: Metadata;
  readonly forkedFrom?: ForkOrigin;
  readonly archived: boolean;
  readonly model: string;
  readonly cwd: string;
}

/**
 * A listing query. `cursor` is the `nextCursor` of the previous page: exact, so no
 * conversation is skipped or repeated (ids are ULIDs, unique and time-ordered).
 * Newest first. `archived` selects archived conversations instead of active ones.
 */
export interface ListQuery {
  /** Page size, 1–1000. Default 50. */
  readonly limit?: number;
  readonly cursor?: string | null;
  readonly sort?: 'created' | 'updated';
  readonly archived?: boolean;
  /** Only conversations whose name contains this text (case-insensitive). */
  readonly name?: string;
  /** Only conversations whose metadata has all these values. */
  readonly metadata?: Metadata;
}

/** One page of a listing: its conversation summaries and the cursor of the next page (`null` at the end). */
export interface ListPage {
  readonly items: readonly ConversationSummary[];
  /** Pass as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * A conversation store. Implementations: `MemoryStore`, `FileStore`.
 *
 * `commit` must be all-or-nothing per conversation: a conversation whose records could not
 * be made durable is reported `ok: false` and none of its records of that call may remain.
 */
export interface Store {
  /** What this store is, for messages (e.g. `file store at /home/me/.colloquy`). */
  readonly description: string;
  /**
   * Append each entry's records to its conversation's log. A log is created by an entry whose
   * first record is `session_meta`. Resolves with one outcome per entry; rejects only when the
   * store as a whole is unusable.
   */
  commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]>;
  /**
   * Stream a conversation's records in `seq` order.
   * @throws {SessionNotFoundError} when there is no such conversation.
   * @throws {CorruptLogError} in strict mode, for a bad line before the last.
   */
  read(id: string, options?: ReadOptions): AsyncIterable<LogRecord>;
  /**
   * The conversation's first record (`session_meta`).
   * @throws {SessionNotFoundError} when there is no such conversation.
   * @throws {CorruptLogError} when its first line is not a `session_meta` record.
   */
  head(id: string): Promise<LogRecord>;
  /**
   * The last record of `type` in the conversation's own log (with `seq` ≤ `upToSeq` if given),
   * found from the end of the log; null when there is none.
   */
  lastRecordOf(id: string, type: LogRecord['type'], options?: { readonly upToSeq?: number }): Promise<LogRecord | null>;
  /** Whether the conversation exists (active or archived). */
  exists(id: string): Promise<boolean>;
  /** A page of conversations. */
  list(query?: ListQuery): Promise<ListPage>;
  /** The summary of one conversation. @throws {SessionNotFoundError} */
  summary(id: string): Promise<ConversationSummary>;
  /** Move a conversation to the archive. @throws {SessionNotFoundError} */
  archive(id: string): Promise<void>;
  /** Move a conversation back from the archive. @throws {SessionNotFoundError} */
  unarchive(id: string): Promise<void>;
  /** Remove a conversation for good. @throws {SessionNotFoundError} */
  delete(id: string): Promise<void>;
  /**
   * Take the conversation's write lease before writing it (idempotent). Reading needs none.
   * @throws {SessionLockedError} naming the holder when another live process writes it.
   */
  acquire(id: string): Promise<void>;
  /** Give up the conversation's write lease and what is cached for it (open files). */
  release(id: string): Promise<void>;
  /**
   * Listen to what is found in logs that is not a clean record (torn tails repaired, lines
   * skipped in lenient mode); returns the unsubscribe function.
   */
  watchIssues?(listener: (issue: LogIssue) => void): () => void;
  /** Rebuild derived data (the listing index) from the logs, when the store keeps any. */
  reindex?(): Promise<void>;
  /** Flush and release everything. */
  close(): Promise<void>;
}
