/**
 * The Postgres store: the whole `Store` contract on PostgreSQL, for a cluster of runtime
 * nodes sharing one database. Each store instance is one node (`nodeId`).
 *
 * This module is the facade. It composes:
 * - `database.ts`: the pool, the schema's tables, errors a person can act on;
 * - `schema.ts`: the tables and their migrations, run before the first query;
 * - `commit.ts` (statements in `commit-statements.ts`): the group commit, one transaction per
 *   call and one statement for all its writes, fenced by the leases;
 * - `leases.ts`: the write leases (owner node, epoch, expiry in database time) and their heartbeat;
 * - `reads.ts`: records streamed page by page, checked as the file store checks its lines;
 * - `listing.ts`: listing and summaries with the other stores' cursors and filters;
 * - `history.ts`: the global message history;
 * - `cluster.ts`: the cluster side (owners, messages between nodes, news of followed logs).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { SessionNotFoundError, StoreError } from '../../errors.js';
import { assertConversationId } from '../../protocol/ids.js';
import type { LogRecord } from '../../protocol/records.js';
import type { CommitEntry, CommitOptions, CommitOutcome, ConversationSummary, ListPage, ListQuery, LogIssue, ReadMode, ReadOptions, Store } from '../store.js';
import { PostgresCluster } from './cluster.js';
import { GroupCommit } from './commit.js';
import { Database } from './database.js';
import { PostgresHistory } from './history.js';
import { Leases } from './leases.js';
import { listConversations, summaryOfConversation } from './listing.js';
import { LogReads, READ_PAGE } from './reads.js';
import { migrate } from './schema.js';

/** Options of `PostgresStore`: where the database is, the schema, this node's id and lease timing, and how logs are read. */
export interface PostgresStoreOptions {
  /**
   * `postgres://user:password@host:port/database` (any form `pg` accepts). Without it, the
   * `pool` settings and libpq's environment variables (`PGHOST`, `PGPORT`, `PGDATABASE`,
   * `PGUSER`, `PGPASSWORD`) say where.
   */
  readonly connectionString?: string;
  /**
   * Settings of the connection pool (`pg.PoolConfig`: `max` connections, default 10; `ssl`;
   * `connectionTimeoutMillis`, default 10,000 here…); they win over the connection string.
   */
  readonly pool?: Omit<pg.PoolConfig, 'connectionString'>;
  /** The schema holding the store's tables, created and migrated on first use. Default `colloquy`. */
  readonly schema?: string;
  /** This node's id in lease rows. Default `<hostname>-<pid>-<random>`, new for every store. */
  readonly nodeId?: string;
  /** How long a lease lasts without renewal (ms); another node takes it over after that. Default 10,000. */
  readonly leaseTtlMs?: number;
  /** How often held leases are renewed (ms). Default a third of `leaseTtlMs`. */
  readonly renewEveryMs?: number;
  /** How bad records are treated when reading. Default `strict`. */
  readonly mode?: ReadMode;
  /** Called for everything found that is not a clean record (lines skipped in lenient mode). */
  readonly onIssue?: (issue: LogIssue) => void;
  /** Records per page of a read. Default 500. */
  readonly readPageSize?: number;
  /** Called for failures of the cluster side that have no caller to reject (the `LISTEN` connection dropping, a message that could not be read). */
  readonly onClusterError?: (error: unknown) => void;
}

/** A store in PostgreSQL (see the module doc). Make one with `postgresStore(options)` or `new PostgresStore(options)`. */
export class PostgresStore implements Store {
  /** `postgres store at <host>/<database> (schema <schema>)`, for messages (never the password). */
  readonly description: string;
  /** The global message history, the `history` table; written by `commit`. */
  readonly history: PostgresHistory;
  readonly #db: Database;
  #nodeId: string;
  #leases!: Leases;
  #cluster!: PostgresCluster;
  #commit!: GroupCommit;
  readonly #timing: { readonly ttlMs: number; readonly renewEveryMs: number; readonly report: ((error: unknown) => void) | undefined };
  /** Something was asked of the store (its node id is fixed from then on). */
  #used = false;
  readonly #reads: LogReads;
  readonly #issueListeners = new Set<(issue: LogIssue) => void>();
  #closed: Promise<void> | null = null;

  /**
   * Nothing is connected yet: the first operation connects and migrates the schema.
   * @throws {StoreError} when the schema name is not a plain identifier or a lease setting is not a positive number.
   */
  constructor(options: PostgresStoreOptions = {}) {
    this.#db = new Database({ connectionString: options.connectionString, pool: options.pool, schema: options.schema ?? 'colloquy' }, migrate);
    this.description = this.#db.description;
    this.#nodeId = options.nodeId === undefined ? `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}` : checkedNodeId(options.nodeId, this.description);
    const ttlMs = options.leaseTtlMs ?? 10_000;
    const renewEveryMs = options.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3));
    for (const [name, value] of [['leaseTtlMs', ttlMs], ['renewEveryMs', renewEveryMs]] as const) {
      if (!Number.isFinite(value) || value <= 0) throw new StoreError(`${this.description}: ${name} must be a positive number of ms, got ${value}`);
    }
    if (options.onIssue) this.#issueListeners.add(options.onIssue);
    this.#timing = { ttlMs, renewEveryMs, report: options.onClusterError };
    this.#bind();
    this.#reads = new LogReads(this.#db, options.mode ?? 'strict', (issue) => this.#report(issue), options.readPageSize ?? READ_PAGE);
    this.history = new PostgresHistory(this.#db);
  }

  /** The leases, the cluster side and the commit of this node. */
  #bind(): void {
    const { ttlMs, renewEveryMs, report } = this.#timing;
    this.#leases = new Leases(this.#db, { nodeId: this.#nodeId, ttlMs, renewEveryMs });
    this.#cluster = new PostgresCluster(this.#db, { nodeId: this.#nodeId, leaseTtlMs: ttlMs, renewEveryMs, report });
    this.#commit = new GroupCommit(this.#db, this.#leases, (written) => this.#cluster.notifySql(written));
  }

  /** This node's id: the owner its leases name. */
  get nodeId(): string {
    return this.#nodeId;
  }

  /** The cluster side: owners by lease, messages between nodes by `NOTIFY`, news of followed logs. Reading it fixes the node id. */
  get cluster(): PostgresCluster {
    this.#used = true;
    return this.#cluster;
  }

  /**
   * Name this node (as `nodeId` does), before anything is asked of the store: the runtime's
   * `node.id` option.
   * @throws {StoreError} once the store was used, or for an id that is empty, longer than 200
   *   characters or holds control characters.
   */
  assignNodeId(id: string): void {
    const checked = checkedNodeId(id, this.description);
    if (checked === this.#nodeId) return;
    if (this.#used) throw new StoreError(`${this.description}: its node id (${this.#nodeId}) cannot change once it is used; give the id to postgresStore({ nodeId }) or to createRuntime({ node: { id } }), not both`);
    this.#nodeId = checked;
    this.#bind();
  }

  /** Connect and migrate the schema now rather than at the first operation. @throws {StoreError} */
  async open(): Promise<void> {
    this.#open();
    await this.#db.ready();
  }

  #open(): void {
    this.#used = true;
    if (this.#closed) throw new StoreError(`${this.description} is closed`);
  }

  #report(issue: LogIssue): void {
    for (const listener of this.#issueListeners) {
      try {
        listener(issue);
      } catch {
        // A listener's failure is not the store's.
      }
    }
  }

  /** Listen to everything found that is not a clean record; returns the unsubscribe function. */
  watchIssues(listener: (issue: LogIssue) => void): () => void {
    this.#issueListeners.add(listener);
    return () => this.#issueListeners.delete(listener);
  }

  /** Listen to the conversations whose lease this node learns it lost (see `Store.watchLeases`); returns the unsubscribe function. */
  watchLeases(listener: (conversationId: string) => void): () => void {
    return this.#leases.watch(listener);
  }

  // ——— writing ———

  /**
   * One group commit in one transaction (see `commit.ts`). An entry of a conversation whose
   * lease this node does not hold takes it first (as `acquire`; `session_locked` when another
   * live node holds it); one whose lease another node took over fails with `lease_lost`.
   * @throws {StoreError} when the store is closed or the database as a whole fails.
   */
  async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
    this.#open();
    return this.#commit.commit(entries, options);
  }

  /**
   * Take the conversation's write lease for this node (idempotent): free, released or expired
   * leases are taken with the next epoch.
   * @throws {SessionLockedError} naming the node, process and host of another live owner.
   * @throws {StoreError} when the database fails.
   */
  async acquire(id: string): Promise<void> {
    this.#open();
    await this.#leases.acquire(id);
  }

  /** Give up the conversation's write lease, if this node still holds it. @throws {StoreError} */
  async release(id: string): Promise<void> {
    this.#open();
    await this.#leases.release(id);
  }

  // ——— reading ———

  /**
   * Stream a conversation's records in `seq` order, a page at a time (see `LogSource.read`).
   * @throws {SessionNotFoundError} @throws {CorruptLogError} in strict mode, at the first bad record.
   */
  async *read(id: string, options: ReadOptions = {}): AsyncIterable<LogRecord> {
    this.#open();
    yield* this.#reads.read(id, options);
  }

  /** A conversation's first record (`session_meta`). @throws {SessionNotFoundError} @throws {CorruptLogError} */
  async head(id: string): Promise<LogRecord> {
    this.#open();
    return this.#reads.head(id);
  }

  /** The last record of `type` (at or before `upToSeq`), by one indexed query; `null` if none. @throws {SessionNotFoundError} */
  async lastRecordOf(id: string, type: LogRecord['type'], options: { readonly upToSeq?: number } = {}): Promise<LogRecord | null> {
    this.#open();
    return this.#reads.lastRecordOf(id, type, options.upToSeq);
  }

  /** Whether the conversation exists (active or archived). @throws {InvalidIdError} */
  async exists(raw: string): Promise<boolean> {
    this.#open();
    const id = assertConversationId(raw);
    const rows = await this.#db.query('read a conversation', { name: 'colloquy_exists', text: `SELECT 1 FROM ${this.#db.table('conversations')} WHERE id = $1` }, [id]);
    return rows.length > 0;
  }

  /** The conversation as `list` shows it. @throws {SessionNotFoundError} */
  async summary(id: string): Promise<ConversationSummary> {
    this.#open();
    return summaryOfConversation(this.#db, id);
  }

  /** A page of conversations, sorted and paged in SQL. @throws {InvalidOpError} for a bad limit or cursor. */
  async list(query: ListQuery = {}): Promise<ListPage> {
    this.#open();
    return listConversations(this.#db, query);
  }

  /**
   * Nothing to rebuild: the listing's columns are written in the same transaction as the
   * records they come from, so they never lag behind the logs.
   */
  async reindex(): Promise<void> {
    this.#open();
    await this.#db.ready();
  }

  // ——— lifecycle of conversations ———

  async #setArchived(raw: string, archived: boolean): Promise<void> {
    this.#open();
    const id = assertConversationId(raw);
    const rows = await this.#db.query(
      archived ? 'archive a conversation' : 'unarchive a conversation',
      { name: 'colloquy_archive', text: `UPDATE ${this.#db.table('conversations')} SET archived = $2 WHERE id = $1 RETURNING id` },
      [id, archived],
    );
    if (rows.length === 0) throw new SessionNotFoundError(id, this.description);
  }

  /** Move a conversation to the archive (listed apart, still readable and writable). @throws {SessionNotFoundError} */
  archive(id: string): Promise<void> {
    return this.#setArchived(id, true);
  }

  /** Move a conversation back from the archive. @throws {SessionNotFoundError} */
  unarchive(id: string): Promise<void> {
    return this.#setArchived(id, false);
  }

  /** Remove a conversation for good, in one transaction: its records, its row and its lease. @throws {SessionNotFoundError} */
  async delete(raw: string): Promise<void> {
    this.#open();
    const id = assertConversationId(raw);
    await this.#db.transaction('delete a conversation', async (client) => {
      const { rowCount } = await client.query(`DELETE FROM ${this.#db.table('conversations')} WHERE id = $1`, [id]);
      if (!rowCount) throw new SessionNotFoundError(id, this.description);
      await client.query(`DELETE FROM ${this.#db.table('records')} WHERE conversation_id = $1`, [id]);
      await client.query(`DELETE FROM ${this.#db.table('leases')} WHERE conversation_id = $1`, [id]);
    });
    this.#leases.forget(id);
  }

  /**
   * Give up every lease this node holds, stop the heartbeat and close the pool. Idempotent;
   * leases that cannot be released (the database unreachable) expire after their ttl.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#cluster.close();
      await this.#leases.releaseAll().catch(() => {});
      await this.#db.pool.end().catch(() => {});
    })();
    return this.#closed;
  }
}

/** A node id as lease rows and channels take it: 1–200 characters, no control characters. */
function checkedNodeId(id: string, where: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new StoreError(`${where}: invalid node id ${JSON.stringify(String(id).slice(0, 64))}: expected 1 to 200 characters, without control characters`, { code: 'invalid_node_id' });
  }
  return id;
}

/** A `PostgresStore` (see `PostgresStoreOptions`); nothing is connected until its first operation. @throws {StoreError} for invalid options. */
export function postgresStore(options: PostgresStoreOptions = {}): PostgresStore {
  return new PostgresStore(options);
}
