/**
 * The cluster side of a Postgres store (`ClusterLink`): PostgreSQL is the cluster's only channel.
 *
 * - **Owners** are the lease rows (`owner_node`, unexpired in database time).
 * - **Messages** between nodes go by `NOTIFY` on the receiving node's channel, in order per
 *   destination (one send after the other); a message too long for a payload (7,000 bytes) is a
 *   row of `inbox` and the notification carries its id. `LISTEN` runs on a connection of its own,
 *   opened again (with a growing pause, at most 5 s) when it drops; messages sent meanwhile are
 *   lost, as the contract allows (callers send again), but rows of `inbox` are taken on reconnect.
 * - **Log growth** is told only for followed conversations: a node that follows one keeps a row
 *   of `follows` (renewed every `renewEveryMs`, expiring with the lease ttl); a commit that wrote
 *   a followed conversation notifies the schema's log channel (`<id>:<lastSeq>` pairs) in its
 *   own transaction, so a follower never hears of records that were not committed. Followers are
 *   told `null` once their row is in place and after a reconnect: read the log to catch up.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { ClusterLink, NodeMessage } from '../cluster.js';
import type { Database } from './database.js';

/** The longest `NOTIFY` payload sent as it is (PostgreSQL's limit is 8,000 bytes). */
const MAX_PAYLOAD = 7000;

/** A channel name as `LISTEN` takes it: at most 63 bytes, so a long one ends in a hash. */
function channelName(name: string): string {
  if (Buffer.byteLength(name) <= 63) return name;
  return `${name.slice(0, 40)}_${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/** Options of the cluster side: lease timing (ms). */
export interface PostgresClusterOptions {
  readonly nodeId: string;
  readonly leaseTtlMs: number;
  readonly renewEveryMs: number;
  readonly report?: (error: unknown) => void;
}

/** The cluster side of one Postgres store (see the module doc). */
export class PostgresCluster implements ClusterLink {
  readonly nodeId: string;
  readonly leaseTtlMs: number;
  /** The schema's log channel (every node listens). */
  readonly logChannel: string;
  readonly #db: Database;
  readonly #o: PostgresClusterOptions;
  readonly #messageListeners = new Set<(message: NodeMessage) => void>();
  readonly #followers = new Map<string, Set<(lastSeq: number | null) => void>>();
  /** Per destination node, the last send: the next one goes after it. */
  readonly #sending = new Map<string, Promise<void>>();
  #client: pg.Client | null = null;
  #connecting: Promise<void> | null = null;
  #retryMs = 100;
  #retry: NodeJS.Timeout | null = null;
  #renew: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(db: Database, options: PostgresClusterOptions) {
    this.#db = db;
    this.#o = options;
    this.nodeId = options.nodeId;
    this.leaseTtlMs = options.leaseTtlMs;
    this.logChannel = channelName(`colloquy_log_${db.schema}`);
  }

  /** The channel a node's messages arrive on. */
  nodeChannel(nodeId: string): string {
    return channelName(`colloquy_node_${createHash('sha256').update(`${this.#db.schema}\0${nodeId}`).digest('hex').slice(0, 24)}`);
  }

  async ownersOf(ids: readonly string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    if (ids.length === 0) return owners;
    const rows = await this.#db.query<{ conversation_id: string; owner_node: string }>(
      'read the owners of conversations',
      {
        name: 'colloquy_owners',
        text: `SELECT conversation_id, owner_node FROM ${this.#db.table('leases')} WHERE conversation_id = ANY($1::text[]) AND owner_node IS NOT NULL AND expires_at >= now()`,
      },
      [ids],
    );
    for (const row of rows) owners.set(row.conversation_id, row.owner_node);
    return owners;
  }

  send(to: string, message: NodeMessage): Promise<void> {
    const before = this.#sending.get(to) ?? Promise.resolve();
    const sent = before.then(() => this.#deliver(to, message));
    const tail = sent.catch(() => {});
    this.#sending.set(to, tail);
    void tail.then(() => {
      if (this.#sending.get(to) === tail) this.#sending.delete(to);
    });
    return sent;
  }

  async #deliver(to: string, message: NodeMessage): Promise<void> {
    const payload = JSON.stringify(message);
    const channel = this.nodeChannel(to);
    if (Buffer.byteLength(payload) <= MAX_PAYLOAD) {
      await this.#db.query('send a message to another node', { name: 'colloquy_notify', text: 'SELECT pg_notify($1, $2)' }, [channel, payload]);
      return;
    }
    await this.#db.query(
      'send a message to another node',
      {
        name: 'colloquy_inbox_send',
        text: `WITH m AS (INSERT INTO ${this.#db.table('inbox')} (to_node, payload) VALUES ($1, $2) RETURNING id) SELECT pg_notify($3, '@' || id::text) FROM m`,
      },
      [to, payload, channel],
    );
  }

  onMessage(listener: (message: NodeMessage) => void): () => void {
    this.#messageListeners.add(listener);
    void this.#connect();
    return () => this.#messageListeners.delete(listener);
  }

  follow(id: string, listener: (lastSeq: number | null) => void): () => void {
    let set = this.#followers.get(id);
    const first = !set;
    if (!set) this.#followers.set(id, (set = new Set()));
    set.add(listener);
    const ready = async (): Promise<void> => {
      await this.#connect();
      if (first) await this.#upsertFollows([id]);
      this.#startRenewing();
    };
    ready().then(
      () => this.#tell(listener, null),
      (err: unknown) => {
        this.#report(err);
        // Followed without news until the connection is back (then told to catch up).
        this.#tell(listener, null);
      },
    );
    return () => {
      const current = this.#followers.get(id);
      if (!current?.delete(listener) || current.size > 0) return;
      this.#followers.delete(id);
      void this.#db
        .query('stop following a conversation', `DELETE FROM ${this.#db.table('follows')} WHERE conversation_id = $1 AND node = $2`, [id, this.nodeId])
        .catch((err: unknown) => this.#report(err));
    };
  }

  /**
   * The SQL that tells followers of `written` (conversation id → last seq) in the commit's
   * transaction: `SELECT pg_notify(…)` statements, or `''` when none is followed.
   */
  notifySql(written: ReadonlyMap<string, number>): string {
    if (written.size === 0) return '';
    const payloads: string[] = [];
    let current = '';
    for (const [id, seq] of written) {
      const pair = `${id}:${seq}`;
      if (current.length + pair.length + 1 > MAX_PAYLOAD) {
        payloads.push(current);
        current = '';
      }
      current = current === '' ? pair : `${current},${pair}`;
    }
    if (current !== '') payloads.push(current);
    // Ids are conversation ids (checked before the commit) and seqs integers: no quoting needed beyond the literal.
    const channel = pg.escapeLiteral(this.logChannel);
    return `SELECT ${payloads.map((p) => `pg_notify(${channel}, ${pg.escapeLiteral(p)})`).join(', ')}`;
  }

  /** Stop listening, give up this node's follows and inbox; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#renew) clearInterval(this.#renew);
    this.#followers.clear();
    this.#messageListeners.clear();
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
    await this.#db
      .query('give up follows', `DELETE FROM ${this.#db.table('follows')} WHERE node = $1`, [this.nodeId])
      .catch(() => {});
  }

  #report(error: unknown): void {
    try {
      this.#o.report?.(error);
    } catch {
      // A reporter's failure is not the store's.
    }
  }

  #tell<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (err) {
      this.#report(err);
    }
  }

  /** Open the `LISTEN` connection if it is not open (resolves once listening). */
  #connect(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#client) return Promise.resolve();
    this.#connecting ??= this.#open().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #open(): Promise<void> {
    await this.#db.ready();
    const client = new pg.Client(this.#db.config);
    client.on('error', () => this.#dropped(client));
    client.on('end', () => this.#dropped(client));
    client.on('notification', (n) => this.#notified(n.channel, n.payload ?? ''));
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.nodeChannel(this.nodeId))}; LISTEN ${pg.escapeIdentifier(this.logChannel)}`);
    } catch (err) {
      client.end().catch(() => {});
      this.#scheduleRetry();
      throw this.#db.error(err, 'listen for other nodes');
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#retryMs = 100;
    // What waited in the inbox while this node was not listening, and logs that grew meanwhile.
    void this.#drainInbox();
    if (this.#followers.size > 0) void this.#upsertFollows([...this.#followers.keys()]).catch((err: unknown) => this.#report(err));
    for (const listeners of this.#followers.values()) for (const listener of listeners) this.#tell(listener, null);
  }

  #dropped(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    client.end().catch(() => {});
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retry) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(5000, this.#retryMs * 2);
    this.#retry = setTimeout(() => {
      this.#retry = null;
      if (this.#messageListeners.size > 0 || this.#followers.size > 0) void this.#connect().catch(() => {});
    }, delay);
    this.#retry.unref();
  }

  #notified(channel: string, payload: string): void {
    if (channel === this.logChannel) {
      for (const pair of payload.split(',')) {
        const colon = pair.lastIndexOf(':');
        const listeners = this.#followers.get(pair.slice(0, colon));
        if (!listeners) continue;
        const seq = Number(pair.slice(colon + 1));
        for (const listener of listeners) this.#tell(listener, seq);
      }
      return;
    }
    if (payload.startsWith('@')) {
      void this.#takeFromInbox(payload.slice(1));
      return;
    }
    this.#message(payload);
  }

  #message(payload: string): void {
    let message: NodeMessage;
    try {
      message = JSON.parse(payload) as NodeMessage;
    } catch (err) {
      this.#report(err);
      return;
    }
    for (const listener of this.#messageListeners) this.#tell(listener, message);
  }

  async #takeFromInbox(id: string): Promise<void> {
    try {
      const rows = await this.#db.query<{ payload: string }>(
        'take a message from the inbox',
        { name: 'colloquy_inbox_take', text: `DELETE FROM ${this.#db.table('inbox')} WHERE id = $1 AND to_node = $2 RETURNING payload` },
        [id, this.nodeId],
      );
      for (const row of rows) this.#message(row.payload);
    } catch (err) {
      this.#report(err);
    }
  }

  async #drainInbox(): Promise<void> {
    try {
      const rows = await this.#db.query<{ id: string; payload: string }>(
        'take the messages of the inbox',
        `DELETE FROM ${this.#db.table('inbox')} WHERE to_node = $1 RETURNING id, payload`,
        [this.nodeId],
      );
      for (const row of rows.sort((a, b) => Number(a.id) - Number(b.id))) this.#message(row.payload);
    } catch (err) {
      this.#report(err);
    }
  }

  async #upsertFollows(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.query(
      'follow conversations',
      {
        name: 'colloquy_follow',
        text: `INSERT INTO ${this.#db.table('follows')} (conversation_id, node, expires_at)
          SELECT id, $2, now() + $3 * interval '1 millisecond' FROM unnest($1::text[]) AS u(id)
          ON CONFLICT (conversation_id, node) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      },
      [ids, this.nodeId, this.leaseTtlMs],
    );
  }

  #startRenewing(): void {
    if (this.#renew || this.#closed) return;
    this.#renew = setInterval(() => {
      if (this.#followers.size === 0) return;
      void this.#upsertFollows([...this.#followers.keys()]).catch((err: unknown) => this.#report(err));
    }, this.#o.renewEveryMs);
    this.#renew.unref();
  }
}
