/**
 * Reading conversation logs from a Postgres store, with no lease: records stream in `seq`
 * order one page at a time (memory is one page, whatever the log's length; no connection is
 * held between pages), each `line` parsed and checked as the file store checks a JSONL line
 * (`log-reader.ts`): in strict mode a bad record fails the read with a `CorruptLogError` at
 * `postgres:<schema>/<id>:<line>`, in lenient mode it is skipped and reported. A record's
 * line number is its place in the log, 1 for its `session_meta`.
 */
import { CorruptLogError, SessionNotFoundError } from '../../errors.js';
import { assertConversationId } from '../../protocol/ids.js';
import type { LogRecord } from '../../protocol/records.js';
import { parseText, RecordChecks } from '../log-reader.js';
import type { LogIssue, ReadMode, ReadOptions } from '../store.js';
import type { Database } from './database.js';

/** Records per page of a read. */
export const READ_PAGE = 500;

/** Rows of candidate records `lastRecordOf` reads at once (a bad one is passed over, as the file store does). */
const LAST_PAGE = 8;

/** Reads of one store's logs. */
export class LogReads {
  readonly #db: Database;
  readonly #mode: ReadMode;
  readonly #report: (issue: LogIssue) => void;
  readonly #pageSize: number;

  /**
   * @param mode the store's read mode, for reads that do not name one.
   * @param report where every issue found goes (besides a read's own `onIssue`).
   */
  constructor(db: Database, mode: ReadMode, report: (issue: LogIssue) => void, pageSize = READ_PAGE) {
    this.#db = db;
    this.#mode = mode;
    this.#report = report;
    this.#pageSize = pageSize;
  }

  /**
   * Stream a conversation's records (see `LogSource.read`): from `fromSeq` (or the log's
   * start) up to `upToSeq` (or its end).
   * @throws {InvalidIdError} @throws {SessionNotFoundError} @throws {CorruptLogError} in strict mode.
   */
  async *read(raw: string, options: ReadOptions = {}): AsyncGenerator<LogRecord> {
    const id = assertConversationId(raw);
    const [log] = await this.#db.query<{ first_seq: string; next_seq: string }>(
      'read a conversation',
      { name: 'colloquy_read_log', text: `SELECT first_seq, next_seq FROM ${this.#db.table('conversations')} WHERE id = $1` },
      [id],
    );
    if (!log) throw new SessionNotFoundError(id, this.#db.description);
    const base = Number(log.first_seq);
    const end = Math.min(Number(log.next_seq) - 1, options.upToSeq ?? Infinity);
    const start = Math.max(base, options.fromSeq ?? base);
    const strict = (options.mode ?? this.#mode) === 'strict';
    const location = this.#db.location(id);
    const report = (issue: Omit<LogIssue, 'location' | 'conversationId'>): void => {
      const full: LogIssue = { ...issue, location, conversationId: id };
      options.onIssue?.(full);
      this.#report(full);
    };
    const checks = new RecordChecks(id, start);
    const text = `SELECT seq, line FROM ${this.#db.table('records')} WHERE conversation_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq LIMIT $4`;
    let from = start;
    while (from <= end) {
      const rows = await this.#db.query<{ seq: string; line: string }>('read a conversation', { name: 'colloquy_read_page', text }, [id, from, end, this.#pageSize]);
      for (const row of rows) {
        const seq = Number(row.seq);
        const line = seq - base + 1;
        const parsed = parseText(row.line);
        if ('reason' in parsed) {
          if (strict) throw new CorruptLogError(location, line, parsed.reason);
          report({ kind: 'bad_line', line, detail: parsed.reason });
          checks.skipped(seq);
          continue;
        }
        const problems = checks.check(parsed.record, seq === base);
        for (const problem of problems) {
          if (strict) throw new CorruptLogError(location, line, problem.reason);
          report({ kind: problem.kind, line, detail: problem.reason });
        }
        if (problems.some((p) => p.skip)) continue;
        if (parsed.record.seq > end) return;
        yield parsed.record;
      }
      if (rows.length < this.#pageSize) return;
      from = Number((rows[rows.length - 1] as { seq: string }).seq) + 1;
    }
  }

  /**
   * A conversation's first record, its `session_meta`.
   * @throws {SessionNotFoundError} @throws {CorruptLogError} (line 1) when it is missing, not valid, not a `session_meta` or names another conversation.
   */
  async head(raw: string): Promise<LogRecord> {
    const id = assertConversationId(raw);
    const [row] = await this.#db.query<{ line: string | null }>(
      'read a conversation',
      {
        name: 'colloquy_read_head',
        text: `SELECT r.line FROM ${this.#db.table('conversations')} AS c
          LEFT JOIN ${this.#db.table('records')} AS r ON r.conversation_id = c.id AND r.seq = c.first_seq WHERE c.id = $1`,
      },
      [id],
    );
    if (!row) throw new SessionNotFoundError(id, this.#db.description);
    const location = this.#db.location(id);
    if (row.line === null) throw new CorruptLogError(location, 1, 'the log has no first record');
    const parsed = parseText(row.line);
    if ('reason' in parsed) throw new CorruptLogError(location, 1, parsed.reason);
    const problem = new RecordChecks(id, undefined).check(parsed.record, true)[0];
    if (problem) throw new CorruptLogError(location, 1, problem.reason);
    return parsed.record;
  }

  /**
   * The last valid record of `type` with `seq` ≤ `upToSeq` (found from the end with the
   * `(conversation_id, type, seq)` index; bad lines are passed over); null when there is none.
   * @throws {SessionNotFoundError}
   */
  async lastRecordOf(raw: string, type: LogRecord['type'], upToSeq = Number.MAX_SAFE_INTEGER): Promise<LogRecord | null> {
    const id = assertConversationId(raw);
    let below = upToSeq;
    while (true) {
      const rows = await this.#db.query<{ found: boolean; seq: string | null; line: string | null }>(
        'read a conversation',
        {
          name: 'colloquy_read_last',
          text: `SELECT c.id IS NOT NULL AS found, r.seq, r.line FROM (SELECT 1) AS one
            LEFT JOIN ${this.#db.table('conversations')} AS c ON c.id = $1
            LEFT JOIN LATERAL (SELECT seq, line FROM ${this.#db.table('records')}
              WHERE conversation_id = $1 AND type = $2 AND seq <= $3 ORDER BY seq DESC LIMIT ${LAST_PAGE}) AS r ON c.id IS NOT NULL`,
        },
        [id, type, below],
      );
      if (!rows[0]?.found) throw new SessionNotFoundError(id, this.#db.description);
      for (const row of rows) {
        if (row.line === null) return null;
        const parsed = parseText(row.line);
        if (!('reason' in parsed) && parsed.record.type === type && parsed.record.seq <= upToSeq) return parsed.record;
      }
      if (rows.length < LAST_PAGE) return null;
      below = Number(rows[rows.length - 1]?.seq) - 1;
    }
  }
}
