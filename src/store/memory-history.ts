/**
 * The global message history of a `MemoryStore`: entries kept in process memory, in the order
 * they were committed, with the same ids, times and queries as the file store's `history.jsonl`.
 */
import { InvalidOpError } from '../errors.js';
import { HISTORY_ID, newEntry, queryIssues } from './history-entries.js';
import type { HistoryEntry, HistoryQuery, MessageHistoryReader } from './store.js';

/** An in-memory message history; `record` is called by its store's commit. */
export class MemoryHistory implements MessageHistoryReader {
  readonly #entries: HistoryEntry[] = [];

  /** Record the messages of a commit (oldest first). */
  record(inputs: readonly { readonly sessionId: string; readonly text: string }[]): void {
    for (const input of inputs) this.#entries.push(newEntry(input));
  }

  async *entries(query: HistoryQuery = {}): AsyncGenerator<HistoryEntry> {
    yield* this.#scan(query, (e) => query.sessionId === undefined || e.sessionId === query.sessionId, query.limit ?? Infinity, 'history query');
  }

  async list(query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    return [...this.#scan(query, (e) => query.sessionId === undefined || e.sessionId === query.sessionId, query.limit ?? 100, 'history query')];
  }

  async lookup(id: string): Promise<HistoryEntry | null> {
    if (typeof id !== 'string' || !HISTORY_ID.test(id)) return null;
    const wanted = id.toUpperCase();
    return this.#entries.find((e) => e.id === wanted) ?? null;
  }

  async search(text: string, query: HistoryQuery = {}): Promise<HistoryEntry[]> {
    if (typeof text !== 'string') throw new InvalidOpError([{ path: ['text'], message: `expected string, got ${typeof text}` }], 'history search');
    const needle = text.toLowerCase();
    const match = (e: HistoryEntry): boolean =>
      (query.sessionId === undefined || e.sessionId === query.sessionId) && e.text.toLowerCase().includes(needle);
    return [...this.#scan(query, match, query.limit ?? 100, 'history search')];
  }

  async flush(): Promise<void> {}

  *#scan(query: HistoryQuery, keep: (e: HistoryEntry) => boolean, limit: number, what: string): Generator<HistoryEntry> {
    const issues = queryIssues(query);
    if (issues.length > 0) throw new InvalidOpError(issues, what);
    let found = 0;
    for (let i = this.#entries.length - 1; i >= 0 && found < limit; i--) {
      const entry = this.#entries[i] as HistoryEntry;
      if (!keep(entry)) continue;
      found++;
      yield entry;
    }
  }
}
