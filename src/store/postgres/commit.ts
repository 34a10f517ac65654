/**
 * The group commit of a Postgres store: every entry of one `commit` call in ONE transaction,
 * so many conversations' turns cost one WAL flush.
 *
 * 1. Checks that need no database: empty entries succeed, ids must be conversation ids,
 *    records contiguous in `seq`, and a lease this node lost stays lost until acquired again.
 * 2. One statement reads what every entry needs and locks it: this node's lease rows of the
 *    conversations it holds (`FOR UPDATE`, checked against the epochs it holds: fencing),
 *    the leases it takes for conversations it does not hold yet (as `acquire` would), and
 *    each conversation's `next_seq`.
 * 3. Per entry, under its own savepoint (when more than one entry writes): one statement
 *    that creates the conversation (`session_meta` first) or advances its `next_seq` only
 *    if it still is the entry's first `seq`, inserts its records (`unnest`, one statement for
 *    all of them) and its user messages into `history`. A failure rolls back to the
 *    savepoint: that entry reports it and the others are unaffected.
 * 4. COMMIT: for durability `sync` with the server's `synchronous_commit`, so it is
 *    acknowledged once flushed; `batched` and `none` set `synchronous_commit = off` for this
 *    transaction (the server flushes it within `wal_writer_delay`; `fsyncIntervalMs` is not used).
 */
import type pg from 'pg';
import { SessionLockedError } from '../../errors.js';
import { isConversationId } from '../../protocol/ids.js';
import type { LogRecord, SessionMetaPayload } from '../../protocol/records.js';
import { newEntry } from '../history-entries.js';
import type { CommitEntry, CommitOptions, CommitOutcome } from '../store.js';
import { latestName } from '../summary.js';
import { isConnectionError, pgMetadata, pgText, type Database } from './database.js';
import { holderOf, takeSql, type HolderRow, type Leases } from './leases.js';

/** Database time in ms since the epoch, as `updated_ms` keeps it. */
export const NOW_MS = 'floor(extract(epoch FROM now()) * 1000)::bigint';

/** Deadlock and serialization failures: the whole transaction is tried again (at most twice more). */
const RETRY = new Set(['40P01', '40001']);

/** An entry that passed the checks needing no database. */
interface Plan {
  readonly index: number;
  readonly entry: CommitEntry;
  readonly id: string;
  readonly first: LogRecord;
  readonly last: LogRecord;
}

/** What the state statement returns per conversation. */
interface StateRow extends HolderRow {
  readonly id: string;
  readonly acquired: string | null;
  readonly held: string | null;
  readonly next_seq: string | null;
}

function ok(conversationId: string, lastSeq: number): CommitOutcome {
  return { conversationId, ok: true, lastSeq };
}

function fail(conversationId: string, firstSeq: number, message: string, code: string): CommitOutcome {
  return { conversationId, ok: false, firstSeq, error: { message, code } };
}

/** The SQL of the group commit of one store (built once: the statements are prepared per connection). */
export class GroupCommit {
  readonly #db: Database;
  readonly #leases: Leases;
  readonly #state: string;
  readonly #append: string;
  readonly #create: string;

  constructor(db: Database, leases: Leases) {
    this.#db = db;
    this.#leases = leases;
    const conversations = db.table('conversations');
    const leasesTable = db.table('leases');
    // $1 every id, $2 the ids to take ($3 node, $4 ttl, $5 pid, $6 host), $7 the ids held.
    this.#state = `WITH acq AS (${takeSql(db, 2)}),
      mine AS (SELECT conversation_id, epoch FROM ${leasesTable} WHERE conversation_id = ANY($7::text[]) AND owner_node = $3 ORDER BY conversation_id FOR UPDATE)
      SELECT w.id, acq.epoch AS acquired, mine.epoch AS held, l.owner_node, l.pid, l.host, l.since, c.next_seq
      FROM unnest($1::text[]) AS w(id)
      LEFT JOIN acq ON acq.conversation_id = w.id
      LEFT JOIN mine ON mine.conversation_id = w.id
      LEFT JOIN ${leasesTable} AS l ON l.conversation_id = w.id
      LEFT JOIN ${conversations} AS c ON c.id = w.id`;
    // $1 id, $2 first seq, $3 next seq after, $4 name (null: unchanged), $5 its key, $6 types,
    // $7 lines, $8–$10 history ids, ts and texts; a creation adds $11–$16 (the header's).
    const rest = `recs AS (
        INSERT INTO ${db.table('records')} (conversation_id, seq, type, line)
        SELECT $1, $2 + r.n - 1, r.type, r.line FROM unnest($6::text[], $7::text[]) WITH ORDINALITY AS r(type, line, n)
        WHERE EXISTS (SELECT 1 FROM conv)),
      hist AS (
        INSERT INTO ${db.table('history')} (id, session_id, ts, text)
        SELECT h.id, $1, h.ts, h.text FROM unnest($8::text[], $9::bigint[], $10::text[]) AS h(id, ts, text)
        WHERE EXISTS (SELECT 1 FROM conv))
      SELECT (SELECT count(*) FROM conv)::int AS written, (SELECT next_seq FROM ${conversations} WHERE id = $1) AS expected`;
    this.#append = `WITH conv AS (
        UPDATE ${conversations} SET next_seq = $3, updated_ms = ${NOW_MS}, name = COALESCE($4, name), name_key = COALESCE($5, name_key)
        WHERE id = $1 AND next_seq = $2 RETURNING id),
      ${rest}`;
    this.#create = `WITH conv AS (
        INSERT INTO ${conversations} (id, created_at, updated_ms, archived, name, name_key, metadata, model, cwd, forked_from, meta, first_seq, next_seq)
        VALUES ($1, $11, ${NOW_MS}, false, $4, $5, $12::jsonb, $13, $14, $15::jsonb, $16::json, $2, $3)
        ON CONFLICT (id) DO NOTHING RETURNING id),
      ${rest}`;
  }

  /**
   * Commit the entries (see the module doc); one outcome per entry, in order.
   * @throws {StoreError} when the database as a whole fails (unreachable, the COMMIT refused).
   */
  async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
    const outcomes: CommitOutcome[] = new Array(entries.length);
    const plans: Plan[] = [];
    entries.forEach((entry, index) => {
      const { conversationId: id, records } = entry;
      const first = records[0];
      const last = records[records.length - 1];
      if (!first || !last) outcomes[index] = ok(id, -1);
      else if (!isConversationId(id)) outcomes[index] = fail(id, first.seq, `${JSON.stringify(id)} is not a conversation id`, 'invalid_id');
      else if (records.some((r, i) => r.seq !== first.seq + i)) {
        outcomes[index] = fail(id, first.seq, `${this.#db.location(id)}: the records of a commit must have consecutive seqs from ${first.seq}`, 'seq_mismatch');
      } else if (this.#leases.isLost(id)) outcomes[index] = fail(id, first.seq, this.#lostMessage(id), 'lease_lost');
      else plans.push({ index, entry, id, first, last });
    });
    if (plans.length === 0) return outcomes;
    await this.#db.ready();
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#attempt(plans, options, outcomes);
        return outcomes;
      } catch (err) {
        if (attempt < 2 && RETRY.has((err as { code?: string }).code ?? '')) continue;
        throw this.#db.error(err, 'commit');
      }
    }
  }

  #lostMessage(id: string): string {
    return `${this.#db.location(id)}: node ${this.#leases.nodeId} no longer holds the write lease of conversation ${id} (another node took it over); nothing of this commit was written; resume the conversation to continue`;
  }

  async #attempt(plans: readonly Plan[], options: CommitOptions, outcomes: CommitOutcome[]): Promise<void> {
    const client = await this.#db.connect('commit');
    let broken = false;
    try {
      await client.query(options.durability === 'sync' ? 'BEGIN' : 'BEGIN; SET LOCAL synchronous_commit = off');
      const ids = [...new Set(plans.map((p) => p.id))].sort();
      const toTake = ids.filter((id) => this.#leases.epochOf(id) === undefined);
      const held = ids.filter((id) => this.#leases.epochOf(id) !== undefined);
      const { rows } = await client.query<StateRow>({
        name: 'colloquy_commit_state',
        text: this.#state,
        values: [ids, toTake, ...this.#leases.takeParams(), held],
      });
      const state = new Map(rows.map((r) => [r.id, r]));
      const taken = new Map<string, number>();
      const lost: string[] = [];
      const writes: Plan[] = [];
      const nextSeq = new Map<string, number | null>();
      for (const plan of plans) {
        const row = state.get(plan.id) as StateRow;
        const epoch = this.#leases.epochOf(plan.id);
        if (epoch !== undefined && (row.held === null || Number(row.held) !== epoch)) {
          if (!lost.includes(plan.id)) lost.push(plan.id);
          outcomes[plan.index] = fail(plan.id, plan.first.seq, this.#lostMessage(plan.id), 'lease_lost');
        } else if (epoch === undefined && row.acquired === null) {
          outcomes[plan.index] = fail(plan.id, plan.first.seq, new SessionLockedError(plan.id, holderOf(row)).message, 'session_locked');
        } else {
          if (row.acquired !== null) taken.set(plan.id, Number(row.acquired));
          nextSeq.set(plan.id, row.next_seq === null ? null : Number(row.next_seq));
          writes.push(plan);
        }
      }
      // One entry that writes needs no savepoint: its failure rolls the transaction back, which holds nothing else.
      const savepoints = writes.length > 1;
      let open = false;
      let aborted = false;
      for (const plan of writes) {
        const next = nextSeq.get(plan.id) ?? null;
        const create = next === null;
        if (create && plan.first.type !== 'session_meta') {
          outcomes[plan.index] = fail(plan.id, plan.first.seq, `no log for conversation ${plan.id} in ${this.#db.description}`, 'session_not_found');
          continue;
        }
        if (!create && plan.first.seq !== next) {
          outcomes[plan.index] = this.#mismatch(plan, next);
          continue;
        }
        if (savepoints) await client.query(open ? 'RELEASE SAVEPOINT entry; SAVEPOINT entry' : 'SAVEPOINT entry');
        open = savepoints;
        try {
          const { rows: result } = await client.query<{ written: number; expected: string | null }>(this.#statement(plan, create));
          const written = result[0];
          if (written && written.written === 1) {
            outcomes[plan.index] = ok(plan.id, plan.last.seq);
            nextSeq.set(plan.id, plan.last.seq + 1);
          } else {
            outcomes[plan.index] = this.#mismatch(plan, written?.expected == null ? null : Number(written.expected));
          }
        } catch (err) {
          if (isConnectionError(err)) throw err;
          if (savepoints) await client.query('ROLLBACK TO SAVEPOINT entry');
          else aborted = true;
          const e = err as { message?: string; code?: string };
          outcomes[plan.index] = fail(plan.id, plan.first.seq, `${this.#db.location(plan.id)}: ${e.message ?? String(err)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`, 'store_error');
        }
      }
      await client.query(aborted ? 'ROLLBACK' : 'COMMIT');
      if (!aborted) for (const [id, epoch] of taken) this.#leases.remember(id, epoch);
      for (const id of lost) this.#leases.lose(id);
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  #mismatch(plan: Plan, expected: number | null): CommitOutcome {
    const message =
      expected === null
        ? `${this.#db.location(plan.id)}: the conversation was created by another commit meanwhile`
        : `${this.#db.location(plan.id)}: expected seq ${expected}, got ${plan.first.seq}`;
    return fail(plan.id, plan.first.seq, message, 'seq_mismatch');
  }

  /** The write of one entry: its conversation created or advanced, its records and its messages. */
  #statement(plan: Plan, create: boolean): pg.QueryConfig {
    const { id, first, last, entry } = plan;
    const meta = create ? (first.payload as SessionMetaPayload) : null;
    const name = latestName(entry.records, meta?.name) ?? null;
    const types: string[] = [];
    const lines: string[] = [];
    for (const record of entry.records) {
      types.push(record.type);
      lines.push(JSON.stringify(record));
    }
    const history = (entry.messages ?? []).map((text) => newEntry({ sessionId: id, text }));
    const values: unknown[] = [
      id,
      first.seq,
      last.seq + 1,
      name === null ? null : pgText(name),
      name === null ? null : pgText(name.toLowerCase()),
      types,
      lines,
      history.map((h) => h.id),
      history.map((h) => h.ts),
      history.map((h) => pgText(h.text)),
    ];
    if (!meta) return { name: 'colloquy_commit_append', text: this.#append, values };
    values.push(
      pgText(meta.created_at),
      meta.metadata === undefined ? null : JSON.stringify(pgMetadata(meta.metadata)),
      pgText(meta.config.model),
      pgText(meta.config.cwd),
      meta.forked_from !== undefined ? JSON.stringify(meta.forked_from) : null,
      JSON.stringify(meta),
    );
    return { name: 'colloquy_commit_create', text: this.#create, values };
  }
}
