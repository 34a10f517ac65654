/**
 * Record-level types of a conversation log that machines, stores and readers share: what a
 * commit reports per conversation, how a failure is described, what a reader finds that is
 * not a clean record, and what a reader of logs must offer (`LogSource`). Store-neutral: a
 * location is a string (a file path for the file store, `memory:<id>` for the memory store).
 */
import type { LogRecord } from '../protocol/records.js';

/** A failure as reported to a conversation: a message a person can act on and a stable code. */
export interface PersistFailure {
  readonly message: string;
  /** e.g. `store_error`, `seq_mismatch`, `lease_lost`, `session_not_found`. */
  readonly code: string;
}

/** The result of committing one conversation's records of a batch. */
export type CommitOutcome =
  | { readonly conversationId: string; readonly ok: true; readonly lastSeq: number }
  | { readonly conversationId: string; readonly ok: false; readonly firstSeq: number; readonly error: PersistFailure };

/**
 * Something found while reading a log that is not a clean record: a torn last line (a crash
 * mid-write), a bad line, a `seq` gap or duplicate, a byte-order mark.
 */
export interface LogIssue {
  /**
   * `torn_tail`, `bad_line` (skipped), `seq_gap`, `seq_duplicate` (skipped), `bom` (skipped
   * mark), `bad_header` (a header naming another conversation than its log, kept; or a log
   * whose header never became durable, a crash while it was created: no conversation, removed).
   */
  readonly kind: 'torn_tail' | 'bad_line' | 'seq_gap' | 'seq_duplicate' | 'bom' | 'bad_header';
  /** Where: a file path for the file store; any store's own description of the log otherwise. */
  readonly location: string;
  /** The conversation whose log it is, when known. */
  readonly conversationId?: string;
  /** 1-based line (record) number in the log; 0 when the issue is not about one line. */
  readonly line: number;
  /** What was found, never quoting the record's content. */
  readonly detail: string;
}

/**
 * How to treat bad records in the middle of a log: `strict` (default) fails the read with a
 * `CorruptLogError` naming where; `lenient` skips the record and reports it.
 */
export type ReadMode = 'strict' | 'lenient';

/** Options of `LogSource.read`: the `seq` range to read and how bad records are treated. */
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

/** What replay needs of a store: a conversation's records, its header and its last record of a kind. */
export interface LogSource {
  /**
   * Stream a conversation's records in `seq` order.
   * @throws {SessionNotFoundError} when there is no such conversation.
   * @throws {CorruptLogError} in strict mode, for a bad record before the last.
   */
  read(id: string, options?: ReadOptions): AsyncIterable<LogRecord>;
  /**
   * The conversation's first record (`session_meta`).
   * @throws {SessionNotFoundError} when there is no such conversation.
   * @throws {CorruptLogError} when its first record is not a `session_meta` record.
   */
  head(id: string): Promise<LogRecord>;
  /**
   * The last record of `type` in the conversation's own log (with `seq` ≤ `upToSeq` if given),
   * found from the end of the log; null when there is none.
   */
  lastRecordOf(id: string, type: LogRecord['type'], options?: { readonly upToSeq?: number }): Promise<LogRecord | null>;
}
