/**
 * The group commit of a Postgres store: every entry of one `commit` call in ONE transaction,
 * so many conversations' turns cost one WAL flush (statements in `commit-statements.ts`).
 *
 * 1. Checks that need no database: empty entries succeed, ids must be conversation ids,
 *    records contiguous in `seq`, and a lease this node lost stays lost until acquired again.
 * 2. One statement reads what every entry needs and locks it: this node's lease rows of the
 *    conversations it holds (`FOR UPDATE`, checked against the epochs it holds: fencing),
 *    the leases it takes for conversations it does not hold yet (as `acquire` would), and
 *    each conversation's `next_seq`. Entries refused here (`lease_lost`, `session_locked`,
 *    `session_not_found`, `seq_mismatch`) write nothing.
 * 3. One statement writes every other entry: each conversation created (`session_meta`
 *    first) or advanced only if its `next_seq` still is the entry's first `seq`, its records
 *    and its user messages. Should the database refuse it (a constraint, a value it cannot
 *    store), the transaction is rolled back and done again entry by entry, each entry's
 *    statement under its own SAVEPOINT: an entry that fails rolls back to it and reports the
 *    failure, the others are committed. So one commit costs four round trips, however many
 *    conversations it holds.
 * 4. COMMIT: for durability `sync` with the server's `synchronous_commit`, so it is
 *    acknowledged once flushed; `batched` and `none` set `synchronous_commit = off` for this
 *    transaction (the server flushes it within `wal_writer_delay`; `fsyncIntervalMs` is not used).
 *    Conversations another node follows are told with the COMMIT, in the same round trip
 *    (`pg_notify` in the transaction: a follower hears only of committed records).
 */
import type pg from 'pg';
import { SessionLockedError } from '../../errors.js';
import { isConversationId } from '../../protocol/ids.js';
import type { LogRecord } from '../../protocol/records.js';
import type { CommitEntry, CommitOptions, CommitOutcome } from '../store.js';
import { CommitStatements, type Write } from './commit-statements.js';
import { isConnectionError, type Database } from './database.js';
import { holderOf, type HolderRow, type Leases } from './leases.js';

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
  /** Another node follows the conversation: the commit tells it (`NOTIFY`). */
  readonly followed: boolean;
}

/** What a write statement returns per conversation. */
interface WrittenRow {
  readonly id: string;
  readonly written: boolean;
  readonly expected: string | null;
}

function ok(conversationId: string, lastSeq: number): CommitOutcome {
  return { conversationId, ok: true, lastSeq };
}

function fail(conversationId: string, firstSeq: number, message: string, code: string): CommitOutcome {
  return { conversationId, ok: false, firstSeq, error: { message, code } };
}

/** The group commit of one store. */
export class GroupCommit {
  readonly #db: Database;
  readonly #leases: Leases;
  readonly #sql: CommitStatements;
  readonly #notify: (written: ReadonlyMap<string, number>) => string;

  /** @param notify the SQL telling followers what a commit wrote (conversation id → last seq), run in its transaction. */
  constructor(db: Database, leases: Leases, notify: (written: ReadonlyMap<string, number>) => string = () => '') {
    this.#db = db;
    this.#leases = leases;
    this.#sql = new CommitStatements(db);
    this.#notify = notify;
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
    // A conversation twice in one call: its second entry continues its first, entry by entry.
    let batch = new Set(plans.map((p) => p.id)).size === plans.length;
    for (let retries = 0; ; ) {
      try {
        if (await this.#attempt(plans, options, outcomes, batch)) return outcomes;
        batch = false;
      } catch (err) {
        if (retries++ < 2 && RETRY.has((err as { code?: string }).code ?? '')) continue;
        throw this.#db.error(err, 'commit');
      }
    }
  }

  #lostMessage(id: string): string {
    return `${this.#db.location(id)}: node ${this.#leases.nodeId} no longer holds the write lease of conversation ${id} (another node took it over); nothing of this commit was written; resume the conversation to continue`;
  }

  /**
   * One transaction: the state, then the writes in one statement (`batch`) or entry by entry.
   * Resolves false, having rolled back, when the batch statement was refused.
   */
  async #attempt(plans: readonly Plan[], options: CommitOptions, outcomes: CommitOutcome[], batch: boolean): Promise<boolean> {
    const client = await this.#db.connect('commit');
    let broken = false;
    try {
      await client.query(options.durability === 'sync' ? 'BEGIN' : 'BEGIN; SET LOCAL synchronous_commit = off');
      const ids = [...new Set(plans.map((p) => p.id))].sort();
      const toTake = ids.filter((id) => this.#leases.epochOf(id) === undefined);
      const held = ids.filter((id) => this.#leases.epochOf(id) !== undefined);
      const { rows } = await client.query<StateRow>(this.#sql.state(ids, toTake, this.#leases.takeParams(), held));
      const state = new Map(rows.map((r) => [r.id, r]));
      const taken = new Map<string, number>();
      const lost = new Set<string>();
      const writes: (Write & { readonly index: number })[] = [];
      const nextSeq = new Map<string, number | null>();
      for (const plan of plans) {
        const row = state.get(plan.id) as StateRow;
        const epoch = this.#leases.epochOf(plan.id);
        if (epoch !== undefined && (row.held === null || Number(row.held) !== epoch)) {
          lost.add(plan.id);
          outcomes[plan.index] = fail(plan.id, plan.first.seq, this.#lostMessage(plan.id), 'lease_lost');
          continue;
        }
        if (epoch === undefined && row.acquired === null) {
          outcomes[plan.index] = fail(plan.id, plan.first.seq, new SessionLockedError(plan.id, holderOf(row)).message, 'session_locked');
          continue;
        }
        if (row.acquired !== null) taken.set(plan.id, Number(row.acquired));
        if (!nextSeq.has(plan.id)) nextSeq.set(plan.id, row.next_seq === null ? null : Number(row.next_seq));
        const next = nextSeq.get(plan.id) ?? null;
        if (next === null && plan.first.type !== 'session_meta') {
          outcomes[plan.index] = fail(plan.id, plan.first.seq, `no log for conversation ${plan.id} in ${this.#db.description}`, 'session_not_found');
        } else if (next !== null && plan.first.seq !== next) {
          outcomes[plan.index] = this.#mismatch(plan, next);
        } else {
          writes.push({ ...plan, create: next === null });
          // Entry by entry, a later entry of the conversation continues this one (if it is written).
          nextSeq.set(plan.id, plan.last.seq + 1);
        }
      }
      let aborted = false;
      if (batch && writes.length > 0) {
        let written: WrittenRow[];
        try {
          written = (await client.query<WrittenRow>(this.#sql.batch(writes))).rows;
        } catch (err) {
          if (isConnectionError(err)) throw err;
          await client.query('ROLLBACK');
          return false;
        }
        const byId = new Map(written.map((r) => [r.id, r]));
        for (const write of writes) outcomes[write.index] = this.#outcome(write, byId.get(write.id));
      } else {
        aborted = await this.#oneByOne(client, writes, outcomes);
      }
      // Followed conversations written: their followers are told in this transaction (so only of what is committed).
      const followed = new Map<string, number>();
      if (!aborted) {
        for (const write of writes) {
          const outcome = outcomes[write.index];
          if (state.get(write.id)?.followed && outcome?.ok) followed.set(write.id, Math.max(followed.get(write.id) ?? -1, outcome.lastSeq));
        }
      }
      const notify = followed.size > 0 ? this.#notify(followed) : '';
      await client.query(aborted ? 'ROLLBACK' : notify === '' ? 'COMMIT' : `${notify}; COMMIT`);
      if (!aborted) for (const [id, epoch] of taken) this.#leases.remember(id, epoch);
      for (const id of lost) this.#leases.lose(id);
      return true;
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * The writes entry by entry, each under a savepoint when there are several (one alone needs
   * none: its failure rolls back a transaction that holds nothing else). Resolves whether the
   * transaction was aborted (a lone write failed).
   */
  async #oneByOne(client: pg.PoolClient, writes: readonly (Write & { readonly index: number })[], outcomes: CommitOutcome[]): Promise<boolean> {
    const savepoints = writes.length > 1;
    const failed = new Set<string>();
    for (const [i, write] of writes.entries()) {
      // An earlier entry of this conversation failed: this one no longer continues its log.
      if (failed.has(write.id)) {
        outcomes[write.index] = fail(write.id, write.first.seq, `${this.#db.location(write.id)}: an earlier entry of this commit for the conversation failed`, 'seq_mismatch');
        continue;
      }
      if (savepoints) await client.query(i > 0 ? 'RELEASE SAVEPOINT entry; SAVEPOINT entry' : 'SAVEPOINT entry');
      try {
        const { rows } = await client.query<WrittenRow>(this.#sql.single(write));
        outcomes[write.index] = this.#outcome(write, rows[0]);
        if (!rows[0]?.written) failed.add(write.id);
      } catch (err) {
        if (isConnectionError(err)) throw err;
        failed.add(write.id);
        const e = err as { message?: string; code?: string };
        outcomes[write.index] = fail(write.id, write.first.seq, `${this.#db.location(write.id)}: ${e.message ?? String(err)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`, 'store_error');
        if (!savepoints) return true;
        await client.query('ROLLBACK TO SAVEPOINT entry');
      }
    }
    return false;
  }

  /** The outcome of a write from what its statement returned. */
  #outcome(write: Write, row: WrittenRow | undefined): CommitOutcome {
    if (row?.written) return ok(write.id, write.last.seq);
    return this.#mismatch(write, row?.expected == null ? null : Number(row.expected));
  }

  #mismatch(write: { readonly id: string; readonly first: LogRecord }, expected: number | null): CommitOutcome {
    const message =
      expected === null
        ? `${this.#db.location(write.id)}: the conversation was created by another commit meanwhile`
        : `${this.#db.location(write.id)}: expected seq ${expected}, got ${write.first.seq}`;
    return fail(write.id, write.first.seq, message, 'seq_mismatch');
  }
}
