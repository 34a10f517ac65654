/**
 * The store: everything a deployment persists — conversation logs, the listing, write leases
 * and the global message history. The persistence actor is its only writer (`commit`);
 * resume, read, fork, list and the history readers read from it.
 */
import type { CommitOutcome, LogIssue, LogSource } from '../log/types.js';
import type { ForkOrigin, LogRecord, Metadata } from '../protocol/records.js';
import type { ClusterLink } from './cluster.js';

export type { CommitOutcome, LogIssue, LogSource, ReadMode, ReadOptions } from '../log/types.js';

/**
 * When a commit is acknowledged (SPEC §5): `sync` after the records are fsynced
 * (fdatasync, plus the directory after a log is created); `batched` after they are written,
 * with an fsync at most every `fsyncIntervalMs`; `none` after they are written, leaving the
 * flush to the operating system.
 */
export type Durability = 'sync' | 'batched' | 'none';

/** Records of one conversation to append, contiguous in `seq`, and the user messages among them. */
export interface CommitEntry {
  readonly conversationId: string;
  readonly records: readonly LogRecord[];
  /**
   * The texts of user messages among `records` for the global message history, written in the
   * same commit (entries of a conversation whose records failed are not written).
   */
  readonly messages?: readonly string[];
}

/** How a commit must be made durable. */
export interface CommitOptions {
  readonly durability: Durability;
  /** For `batched`: the longest a written record waits for its fsync (ms). Default 100. */
  readonly fsyncIntervalMs?: number;
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
 * A conversation store. Implementations: `MemoryStore`, `FileStore`, and `PostgresStore`
 * (from `colloquy/postgres`).
 *
 * Reads (`read`, `head`, `lastRecordOf`: the `LogSource` replay needs) take no lease.
 * `commit` must be all-or-nothing per conversation: a conversation whose records could not
 * be made durable is reported `ok: false` and none of its records of that call may remain.
 */
export interface Store extends LogSource {
  /** What this store is, for messages (e.g. `file store at /home/me/.colloquy`). */
  readonly description: string;
  /**
   * The global message history: every user message of every conversation, newest first
   * (SPEC §5, as Codex's `history.jsonl`). Written only by `commit` (`CommitEntry.messages`).
   */
  readonly history: MessageHistoryReader;
  /**
   * Append each entry's records to its conversation's log. A log is created by an entry whose
   * first record is `session_meta`. Resolves with one outcome per entry; rejects only when the
   * store as a whole is unusable.
   */
  commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]>;
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
  /**
   * Listen to write leases lost: called when this store learns it lost a conversation's lease
   * (another node took it over after it expired, found by the lease heartbeat or by a commit
   * refused with `lease_lost`); returns the unsubscribe function. Stores shared by a cluster
   * of nodes (`PostgresStore`) have it.
   */
  watchLeases?(listener: (conversationId: string) => void): () => void;
  /**
   * The cluster side of a store shared by several runtime nodes (`PostgresStore`): who owns a
   * conversation, messages between nodes, news of a log's growth. A runtime on a store that has
   * it is a node of that cluster: it routes ops for conversations other nodes own.
   */
  readonly cluster?: ClusterLink;
  /**
   * Name this node of the cluster (before the store is used): the runtime's `node.id`.
   * @throws {StoreError} once the store was used, or for an invalid id.
   */
  assignNodeId?(id: string): void;
  /** Rebuild derived data (the listing index) from the logs, when the store keeps any. */
  reindex?(): Promise<void>;
  /** Flush and release everything. */
  close(): Promise<void>;
}

/** One entry of the global message history (on disk `sessionId` is `session_id`). */
export interface HistoryEntry {
  /** A ULID: unique, time-ordered, unchanged by trims. */
  readonly id: string;
  /** The conversation the message was sent in. */
  readonly sessionId: string;
  /** When it was recorded: Unix time in seconds, as Codex's. */
  readonly ts: number;
  /** The message text. */
  readonly text: string;
}

/** Which history entries a read returns. */
export interface HistoryQuery {
  /** At most this many (a positive integer). Default 100 for `list` and `search`; unbounded for `entries`. */
  readonly limit?: number;
  /** Only this conversation's entries. */
  readonly sessionId?: string;
}

/** Reading the global message history of a store. Entries come newest first. */
export interface MessageHistoryReader {
  /**
   * The entries, newest first, streamed.
   * @throws {InvalidOpError} when the query is not valid.
   * @throws {StoreError} when the history cannot be read.
   */
  entries(query?: HistoryQuery): AsyncIterable<HistoryEntry>;
  /** The newest entries, at most `limit` (default 100), optionally of one conversation. */
  list(query?: HistoryQuery): Promise<HistoryEntry[]>;
  /** The entry with this id (case-insensitive), or `null` (unknown, trimmed away, not an id). */
  lookup(id: string): Promise<HistoryEntry | null>;
  /** Entries whose text contains `text` (case-insensitive), newest first, at most `limit` (default 100). */
  search(text: string, query?: HistoryQuery): Promise<HistoryEntry[]>;
  /** Wait until every history write in progress has finished (or failed). Never rejects. */
  flush(): Promise<void>;
}
