/**
 * Write leases of a Postgres store: one writer node per conversation across a cluster sharing
 * one database. A lease is a row of `leases`; taking it makes this node its owner with the
 * next `epoch` (the fencing token) when it is free, released or expired (`expires_at`, always
 * database time, never a node's clock). The node remembers the epoch it got: every commit
 * checks, in its transaction, that the row still names this node and that epoch (see
 * `commit.ts`), so a node that lost its lease (paused past its expiry while another took it)
 * writes nothing more. A heartbeat extends every held lease each `renewEveryMs`; a lease it
 * finds taken over is dropped and reported to the `watch` listeners.
 */
import { hostname } from 'node:os';
import { SessionLockedError, StoreError, type LeaseHolder } from '../../errors.js';
import { assertConversationId } from '../../protocol/ids.js';
import type { Database } from './database.js';

/** Lease settings of a node (ms). */
export interface LeaseSettings {
  /** This node's id in the `leases` table. */
  readonly nodeId: string;
  /** How long a lease lasts without renewal (ms). */
  readonly ttlMs: number;
  /** How often held leases are renewed (ms). */
  readonly renewEveryMs: number;
}

/** A lease row as read with its holder, for `SessionLockedError`. */
export interface HolderRow {
  readonly owner_node: string | null;
  readonly pid: number | null;
  readonly host: string | null;
  readonly since: Date | null;
}

/** The holder a lease row names. */
export function holderOf(row: HolderRow): LeaseHolder {
  return {
    pid: row.pid ?? 0,
    host: row.host ?? 'an unknown host',
    since: row.since ? row.since.toISOString() : 'an unknown time',
    ...(row.owner_node !== null ? { node: row.owner_node } : {}),
  };
}

/** The leases this node holds, and the SQL that takes, renews and gives them up. */
export class Leases {
  readonly nodeId: string;
  readonly #db: Database;
  readonly #ttlMs: number;
  readonly #renewEveryMs: number;
  readonly #host = hostname();
  /** Held leases: conversation id → the epoch this node got. */
  readonly #held = new Map<string, number>();
  /** Leases found taken over: commits to them are refused until they are acquired again. */
  readonly #lost = new Set<string>();
  readonly #listeners = new Set<(conversationId: string) => void>();
  #timer: NodeJS.Timeout | null = null;
  #renewing: Promise<void> | null = null;
  readonly #upsert: string;

  constructor(db: Database, settings: LeaseSettings) {
    this.#db = db;
    this.nodeId = settings.nodeId;
    this.#ttlMs = settings.ttlMs;
    this.#renewEveryMs = settings.renewEveryMs;
    this.#upsert = takeSql(db);
  }

  /** The epoch this node holds for `id`, if it holds its lease. */
  epochOf(id: string): number | undefined {
    return this.#held.get(id);
  }

  /** Whether this node lost `id`'s lease (and has not acquired it again since). */
  isLost(id: string): boolean {
    return this.#lost.has(id);
  }

  /** The parameters of `takeSql` after the ids: this node, the ttl (ms), the pid and the host. */
  takeParams(): unknown[] {
    return [this.nodeId, this.#ttlMs, process.pid, this.#host];
  }

  /**
   * Take conversation `id`'s lease for this node (idempotent while held).
   * @throws {SessionLockedError} naming the node, process and host of another live owner.
   * @throws {StoreError} when the database fails.
   */
  async acquire(raw: string): Promise<void> {
    const id = assertConversationId(raw);
    if (this.#held.has(id)) return;
    // A holder that lets go between the two statements: try once more.
    for (let attempt = 0; ; attempt++) {
      const taken = await this.#db.query<{ conversation_id: string; epoch: string }>('take a lease', { name: 'colloquy_lease_take', text: this.#upsert }, [[id], ...this.takeParams()]);
      const row = taken[0];
      if (row) {
        this.remember(id, Number(row.epoch));
        return;
      }
      const holder = await this.#db.query<HolderRow>(
        'read a lease',
        `SELECT owner_node, pid, host, since FROM ${this.#db.table('leases')} WHERE conversation_id = $1 AND owner_node IS NOT NULL AND expires_at >= now()`,
        [id],
      );
      if (holder[0]) throw new SessionLockedError(id, holderOf(holder[0]));
      if (attempt >= 2) throw new StoreError(`${this.#db.description}: the lease of conversation ${id} changed hands while it was being taken; try again`);
    }
  }

  /** Note a lease this node took (by `acquire` or inside a commit). */
  remember(id: string, epoch: number): void {
    this.#held.set(id, epoch);
    this.#lost.delete(id);
    this.#startHeartbeat();
  }

  /** Drop a lease found taken over and tell the listeners. */
  lose(id: string): void {
    this.#held.delete(id);
    this.#lost.add(id);
    for (const listener of this.#listeners) {
      try {
        listener(id);
      } catch {
        // A listener's failure is not the store's.
      }
    }
  }

  /** Forget a conversation's lease here (the conversation was deleted, with its row). */
  forget(id: string): void {
    this.#held.delete(id);
    this.#lost.delete(id);
  }

  /** Listen to leases this node learns it lost; returns the unsubscribe function. */
  watch(listener: (conversationId: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Give `id`'s lease up, if this node still holds it (its epoch stays, so the next owner's is higher). @throws {StoreError} */
  async release(raw: string): Promise<void> {
    const id = assertConversationId(raw);
    this.#lost.delete(id);
    const epoch = this.#held.get(id);
    if (epoch === undefined) return;
    this.#held.delete(id);
    await this.#db.query('release a lease', { name: 'colloquy_lease_release', text: releaseSql(this.#db) }, [[id], [epoch], this.nodeId]);
  }

  /** Give up every lease held and stop the heartbeat. @throws {StoreError} */
  async releaseAll(): Promise<void> {
    this.#stopHeartbeat();
    await this.#renewing;
    const held = [...this.#held];
    this.#held.clear();
    this.#lost.clear();
    if (held.length === 0) return;
    await this.#db.query('release the leases', { name: 'colloquy_lease_release', text: releaseSql(this.#db) }, [held.map(([id]) => id), held.map(([, e]) => e), this.nodeId]);
  }

  /**
   * Extend every held lease by the ttl, in one statement; a lease whose row no longer names
   * this node and its epoch is lost. A failed renewal (the database unreachable) is tried
   * again at the next beat: nothing is dropped without the database's answer.
   */
  async renew(): Promise<void> {
    if (this.#renewing) return this.#renewing;
    const held = [...this.#held];
    if (held.length === 0) return;
    this.#renewing = (async () => {
      try {
        const rows = await this.#db.query<{ conversation_id: string }>('renew the leases', { name: 'colloquy_lease_renew', text: renewSql(this.#db) }, [
          this.nodeId,
          this.#ttlMs,
          held.map(([id]) => id),
          held.map(([, e]) => e),
        ]);
        const renewed = new Set(rows.map((r) => r.conversation_id));
        for (const [id, epoch] of held) {
          // Released, or taken again with another epoch, while the renewal ran: not lost.
          if (!renewed.has(id) && this.#held.get(id) === epoch) this.lose(id);
        }
      } catch {
        // Tried again at the next beat; a commit meanwhile checks the lease itself.
      } finally {
        this.#renewing = null;
      }
    })();
    return this.#renewing;
  }

  #startHeartbeat(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.renew(), this.#renewEveryMs);
    this.#timer.unref();
  }

  #stopHeartbeat(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

/**
 * Take the leases of the ids `$1` for node `$2` (ttl `$3` ms, pid `$4`, host `$5`; numbered
 * from `first` instead of 1 when given): each that
 * is free, released, expired or already this node's gets this node as owner and the next
 * epoch; returns those taken with their epoch. Rows held by another live node are locked and
 * left as they are.
 */
export function takeSql(db: Database, first = 1): string {
  const leases = db.table('leases');
  const [ids, node, ttl, pid, host] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `INSERT INTO ${leases} AS l (conversation_id, owner_node, epoch, expires_at, pid, host, since)
    SELECT id, ${node}, 1, now() + ${ttl} * interval '1 millisecond', ${pid}, ${host}, now() FROM unnest(${ids}::text[]) AS u(id)
    ON CONFLICT (conversation_id) DO UPDATE SET owner_node = EXCLUDED.owner_node, epoch = l.epoch + 1,
      expires_at = EXCLUDED.expires_at, pid = EXCLUDED.pid, host = EXCLUDED.host, since = EXCLUDED.since
      WHERE l.owner_node IS NULL OR l.expires_at < now() OR l.owner_node = EXCLUDED.owner_node
    RETURNING conversation_id, epoch`;
}

/** Give up the leases of ids `$1` with epochs `$2` still held by node `$3`. */
function releaseSql(db: Database): string {
  return `UPDATE ${db.table('leases')} AS l SET owner_node = NULL, expires_at = now()
    FROM unnest($1::text[], $2::bigint[]) AS h(id, epoch)
    WHERE l.conversation_id = h.id AND l.owner_node = $3 AND l.epoch = h.epoch`;
}

/** Extend by `$2` ms the leases of ids `$3` with epochs `$4` still held by node `$1`; returns those extended. */
function renewSql(db: Database): string {
  return `UPDATE ${db.table('leases')} AS l SET expires_at = now() + $2 * interval '1 millisecond'
    FROM unnest($3::text[], $4::bigint[]) AS h(id, epoch)
    WHERE l.conversation_id = h.id AND l.owner_node = $1 AND l.epoch = h.epoch
    RETURNING l.conversation_id`;
}
