/**
 * The global message history of a Postgres store: the `history` table, written by the store's
 * commits in their transaction (`commit.ts`), read newest first (ids are ULIDs, so id order is
 * time order) one page at a time. Same ids, times and query checks as the other stores'.
 * `search` matches case-insensitively with the database's `lower()` (Unicode-aware in a UTF-8
 * database with a libc or ICU locale; ASCII only under the `C` locale). A NUL character of a
 * message, which PostgreSQL text cannot hold, is kept as U+FFFD.
 */
import { InvalidOpError } from '../../errors.js';
import { HISTORY_ID, queryIssues } from '../history-entries.js';
import type { HistoryEntry, HistoryQuery, MessageHistoryReader } from '../store.js';
import { pgText, type Database } from './database.js';

/** Entries read per page by `entries`. */
const HISTORY_PAGE = 500;

/** Above every ULID (26 characters of 0–9 and A–Z): where a newest-first scan starts. */
const ABOVE_ALL = 'ZZZZZZZZZZZZZZZZZZZZZZZZZZZ';

interface HistoryRow {
  readonly id: string;
  readonly session_id: string;
  readonly ts: string;
  readonly text: string;
}

function entryOf(row: HistoryRow): HistoryEntry {
  return { id: row.id, sessionId: row.session_id, ts: Number(row.ts), text: row.text };
}

/** The message history of a Postgres store (read side; the store's commit writes it). */
export class PostgresHistory implements MessageHistoryReader {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** The entries, newest first, streamed a page at a time. @throws {InvalidOpError} @throws {StoreError} */
  async *entries(query: HistoryQuery = {}): AsyncGenerator<HistoryEntry> {
    check(query, 'history query');
    let left = query.limit ?? Infinity;
    let below = ABOVE_ALL;
    while (left > 0) {
      const page = Math.min(left, HISTORY_PAGE);
      const rows = await this.#page('', query.sessionId, below, page);
      for (const row of rows) yield entryOf(row);
      left -= rows.length;
      if (rows.length < page) return;
      below = (rows[rows.length - 1] as HistoryRow).id;
    }
  }

  /** The newest entries, at most `limit` (default 100). @throws {InvalidOpError} @throws {StoreError} */
  async list(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    check(query, 'history query');
    return (await this.#page('', query.sessionId, ABOVE_ALL, query.limit ?? 100)).map(entryOf);
  }

  /** The entry with this id (case-insensitive), or null. @throws {StoreError} */
  async lookup(id: string): Promise<HistoryEntry | null> {
    if (typeof id !== 'string' || !HISTORY_ID.test(id)) return null;
    const [row] = await this.#db.query<HistoryRow>(
      'read the message history',
      { name: 'colloquy_history_lookup', text: `SELECT id, session_id, ts, text FROM ${this.#db.table('history')} WHERE id = $1` },
      [id.toUpperCase()],
    );
    return row ? entryOf(row) : null;
  }

  /** Entries whose text contains `text` (case-insensitive), newest first, at most `limit` (default 100). @throws {InvalidOpError} @throws {StoreError} */
  async search(text: string, query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    if (typeof text !== 'string') throw new InvalidOpError([{ path: ['text'], message: `expected string, got ${typeof text}` }], 'history search');
    check(query, 'history search');
    return (await this.#page(text, query.sessionId, ABOVE_ALL, query.limit ?? 100)).map(entryOf);
  }

  /** History writes are part of the store's commits: nothing is ever in progress here. */
  async flush(): Promise<void> {}

  /** Entries below id `below`, newest first, at most `limit`, of one conversation when given, containing `text` when not empty. */
  #page(text: string, sessionId: string | undefined, below: string, limit: number): Promise<HistoryRow[]> {
    const conditions = ['id < $1'];
    const values: unknown[] = [below, limit];
    if (sessionId !== undefined) {
      values.push(sessionId);
      conditions.push(`session_id = $${values.length}`);
    }
    if (text !== '') {
      values.push(pgText(text));
      conditions.push(`strpos(lower(text), lower($${values.length})) > 0`);
    }
    const name = `colloquy_history_${sessionId !== undefined ? 's' : ''}${text !== '' ? 't' : ''}`;
    return this.#db.query<HistoryRow>(
      'read the message history',
      { name, text: `SELECT id, session_id, ts, text FROM ${this.#db.table('history')} WHERE ${conditions.join(' AND ')} ORDER BY id DESC LIMIT $2` },
      values,
    );
  }
}

function check(query: HistoryQuery, what: string): void {
  const issues = queryIssues(query);
  if (issues.length > 0) throw new InvalidOpError(issues, what);
}
