/**
 * An in-memory store, for tests and for conversations that need no durability.
 * Records are kept as objects; nothing survives the process.
 */
import { SessionNotFoundError } from '../errors.js';
import { assertConversationId, isConversationId } from '../protocol/ids.js';
import type { LogRecord, SessionMetaPayload } from '../protocol/records.js';
import { compareListed, matches, paginate, type Listed } from './listing.js';
import type { CommitEntry, CommitOptions, CommitOutcome, ConversationSummary, ListPage, ListQuery, ReadOptions, Store } from './store.js';
import { latestName, summaryOf } from './summary.js';
import { MemoryHistory } from './memory-history.js';

interface Log {
  readonly meta: SessionMetaPayload;
  readonly records: LogRecord[];
  archived: boolean;
  updatedMs: number;
  name: string | undefined;
}

/** A `Store` kept in process memory, its message history included. `commit` checks `seq` continuity like the file store. */
export class MemoryStore implements Store {
  readonly description = 'memory store';
  /** The global message history, in memory; written by `commit`. */
  readonly history = new MemoryHistory();
  readonly #logs = new Map<string, Log>();

  async commit(entries: readonly CommitEntry[], _options: CommitOptions): Promise<CommitOutcome[]> {
    const outcomes: CommitOutcome[] = [];
    for (const entry of entries) {
      const outcome = this.#append(entry);
      outcomes.push(outcome);
      if (outcome.ok && entry.messages) this.history.record(entry.messages.map((text) => ({ sessionId: entry.conversationId, text })));
    }
    return outcomes;
  }

  #append(entry: CommitEntry): CommitOutcome {
    const first = entry.records[0];
    const last = entry.records[entry.records.length - 1];
    if (!first || !last) return { conversationId: entry.conversationId, ok: true, lastSeq: -1 };
    // As the file store: a conversation that could never be read back is not stored.
    if (!isConversationId(entry.conversationId)) {
      return fail(entry.conversationId, first.seq, `${JSON.stringify(entry.conversationId)} is not a conversation id`, 'invalid_id');
    }
    let log = this.#logs.get(entry.conversationId);
    if (!log) {
      if (first.type !== 'session_meta') {
        return fail(entry.conversationId, first.seq, `no log for conversation ${entry.conversationId}`, 'session_not_found');
      }
      log = { meta: first.payload, records: [], archived: false, updatedMs: Date.now(), name: undefined };
      this.#logs.set(entry.conversationId, log);
    } else {
      const expected = (log.records[log.records.length - 1]?.seq ?? -1) + 1;
      if (first.seq !== expected) {
        return fail(entry.conversationId, first.seq, `expected seq ${expected}, got ${first.seq}`, 'seq_mismatch');
      }
    }
    for (const record of entry.records) log.records.push(record);
    log.updatedMs = Date.now();
    log.name = latestName(entry.records, log.name);
    return { conversationId: entry.conversationId, ok: true, lastSeq: last.seq };
  }

  async *read(id: string, options?: ReadOptions): AsyncIterable<LogRecord> {
    const log = this.#get(id);
    const upTo = options?.upToSeq ?? Infinity;
    const from = options?.fromSeq ?? -Infinity;
    for (const record of log.records) {
      if (record.seq > upTo) return;
      if (record.seq >= from) yield record;
    }
  }

  async head(id: string): Promise<LogRecord> {
    return this.#get(id).records[0] as LogRecord;
  }

  async lastRecordOf(id: string, type: LogRecord['type'], options: { readonly upToSeq?: number } = {}): Promise<LogRecord | null> {
    const records = this.#get(id).records;
    const upTo = options.upToSeq ?? Infinity;
    for (let i = records.length - 1; i >= 0; i--) {
      const r = records[i] as LogRecord;
      if (r.seq <= upTo && r.type === type) return r;
    }
    return null;
  }

  async exists(id: string): Promise<boolean> {
    return this.#logs.has(assertConversationId(id));
  }

  async list(query: ListQuery = {}): Promise<ListPage> {
    const sort = query.sort ?? 'created';
    const listed: Listed[] = [];
    for (const log of this.#logs.values()) {
      const entry = this.#listed(log);
      if (matches(entry.summary, query)) listed.push(entry);
    }
    listed.sort(compareListed(sort));
    return paginate(listed, query);
  }

  async summary(id: string): Promise<ConversationSummary> {
    return this.#listed(this.#get(id)).summary;
  }

  async archive(id: string): Promise<void> {
    this.#get(id).archived = true;
  }

  async unarchive(id: string): Promise<void> {
    const log = this.#get(id);
    log.archived = false;
    log.updatedMs = Date.now();
  }

  async delete(id: string): Promise<void> {
    this.#get(id);
    this.#logs.delete(id);
  }

  /** In-process only: there is no other writer to exclude. */
  async acquire(id: string): Promise<void> {
    assertConversationId(id);
  }

  async release(_id: string): Promise<void> {}

  async close(): Promise<void> {}

  #listed(log: Log): Listed {
    return { summary: summaryOf(log.meta, log.updatedMs, log.archived, log.name), updatedMs: log.updatedMs };
  }

  #get(raw: string): Log {
    const id = assertConversationId(raw);
    const log = this.#logs.get(id);
    if (!log) throw new SessionNotFoundError(id, this.description);
    return log;
  }
}

function fail(conversationId: string, firstSeq: number, message: string, code: string): CommitOutcome {
  return { conversationId, ok: false, firstSeq, error: { message, code } };
}
