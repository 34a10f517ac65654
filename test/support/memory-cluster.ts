/**
 * A cluster of nodes in one process, for tests of routing and take-over without a database:
 * one `MemoryStore` holds the logs; each node's store adds leases with an owner, an epoch and an
 * expiry on a manual clock (a commit by a node that is not the owner is refused `lease_lost`), and
 * a `ClusterLink` whose messages and log news are delivered asynchronously in process. A node can
 * be cut off (`partition`: it neither sends nor receives) to play a dead or paused node.
 */
import { SessionLockedError } from '../../src/errors.js';
import type { LogRecord } from '../../src/protocol/records.js';
import type { ClusterLink, NodeMessage } from '../../src/store/cluster.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { CommitEntry, CommitOptions, CommitOutcome, ListQuery, ReadOptions, Store } from '../../src/store/store.js';

interface LeaseRow {
  owner: string | null;
  epoch: number;
  expiresAt: number;
}

export class MemoryCluster {
  readonly shared = new MemoryStore();
  readonly leases = new Map<string, LeaseRow>();
  readonly ttlMs: number;
  /** The cluster's clock (ms); leases expire by it. */
  now = 0;
  readonly #inboxes = new Map<string, Set<(m: NodeMessage) => void>>();
  readonly #followers = new Map<string, Set<(seq: number | null) => void>>();
  readonly #cut = new Set<string>();
  /** Replies to drop before delivering again (a lost message). */
  dropReplies = 0;
  /** Messages sent, for assertions. */
  readonly sent: { to: string; message: NodeMessage }[] = [];

  constructor(ttlMs = 1000) {
    this.ttlMs = ttlMs;
  }

  /** A node's store. */
  node(nodeId: string): ClusterNodeStore {
    return new ClusterNodeStore(this, nodeId);
  }

  /** Cut a node off (or join it again): nothing it sends arrives, nothing reaches it, its commits are refused. */
  partition(nodeId: string, cut = true): void {
    if (cut) this.#cut.add(nodeId);
    else this.#cut.delete(nodeId);
  }

  isCut(nodeId: string): boolean {
    return this.#cut.has(nodeId);
  }

  /** Let every lease not renewed expire. */
  expire(): void {
    this.now += this.ttlMs + 1;
  }

  live(row: LeaseRow | undefined): string | null {
    return row && row.owner !== null && row.expiresAt >= this.now ? row.owner : null;
  }

  deliver(to: string, message: NodeMessage): void {
    this.sent.push({ to, message });
    if (this.#cut.has(to) || this.#cut.has(message.from)) return;
    if (message.type === 'reply' && this.dropReplies > 0) {
      this.dropReplies--;
      return;
    }
    for (const listener of this.#inboxes.get(to) ?? []) setImmediate(() => listener(message));
  }

  listen(nodeId: string, listener: (m: NodeMessage) => void): () => void {
    let set = this.#inboxes.get(nodeId);
    if (!set) this.#inboxes.set(nodeId, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  follow(id: string, listener: (seq: number | null) => void): () => void {
    let set = this.#followers.get(id);
    if (!set) this.#followers.set(id, (set = new Set()));
    set.add(listener);
    setImmediate(() => listener(null));
    return () => set.delete(listener);
  }

  grew(id: string, lastSeq: number): void {
    for (const listener of this.#followers.get(id) ?? []) setImmediate(() => listener(lastSeq));
  }
}

/** One node's view of a `MemoryCluster`. */
export class ClusterNodeStore implements Store {
  readonly description: string;
  readonly cluster: ClusterLink;
  readonly #c: MemoryCluster;
  readonly #nodeId: string;
  readonly #held = new Map<string, number>();
  readonly #lost = new Set<(id: string) => void>();
  /** Commits refused because the lease was lost, for assertions. */
  refused = 0;

  constructor(c: MemoryCluster, nodeId: string) {
    this.#c = c;
    this.#nodeId = nodeId;
    this.description = `memory cluster node ${nodeId}`;
    this.cluster = {
      nodeId,
      leaseTtlMs: c.ttlMs,
      ownersOf: async (ids) => {
        const owners = new Map<string, string>();
        for (const id of ids) {
          const owner = c.live(c.leases.get(id));
          if (owner !== null) owners.set(id, owner);
        }
        return owners;
      },
      send: async (to, message) => c.deliver(to, message),
      onMessage: (listener) => c.listen(nodeId, listener),
      follow: (id, listener) => c.follow(id, listener),
    };
  }

  get history() {
    return this.#c.shared.history;
  }

  /** Renew this node's leases (a heartbeat), unless it is cut off. */
  renew(): void {
    if (this.#c.isCut(this.#nodeId)) return;
    for (const [id, epoch] of this.#held) {
      const row = this.#c.leases.get(id);
      if (row && row.owner === this.#nodeId && row.epoch === epoch) row.expiresAt = this.#c.now + this.#c.ttlMs;
    }
  }

  async acquire(id: string): Promise<void> {
    const row = this.#c.leases.get(id);
    const owner = this.#c.live(row);
    if (owner === this.#nodeId && row && this.#held.get(id) === row.epoch) return;
    if (owner !== null && owner !== this.#nodeId) throw new SessionLockedError(id, { pid: 1, host: 'test', since: 'then', node: owner });
    const epoch = (row?.epoch ?? 0) + 1;
    this.#c.leases.set(id, { owner: this.#nodeId, epoch, expiresAt: this.#c.now + this.#c.ttlMs });
    this.#held.set(id, epoch);
  }

  async release(id: string): Promise<void> {
    const epoch = this.#held.get(id);
    this.#held.delete(id);
    const row = this.#c.leases.get(id);
    if (row && row.owner === this.#nodeId && row.epoch === epoch) row.owner = null;
  }

  async commit(entries: readonly CommitEntry[], options: CommitOptions): Promise<CommitOutcome[]> {
    const outcomes: CommitOutcome[] = [];
    for (const entry of entries) {
      const id = entry.conversationId;
      const first = entry.records[0];
      if (!first) {
        outcomes.push({ conversationId: id, ok: true, lastSeq: -1 });
        continue;
      }
      if (first.type === 'session_meta' && !this.#held.has(id)) await this.acquire(id).catch(() => {});
      const row = this.#c.leases.get(id);
      const fenced = this.#c.isCut(this.#nodeId) || !row || row.owner !== this.#nodeId || row.epoch !== this.#held.get(id);
      if (fenced) {
        this.refused++;
        this.#held.delete(id);
        outcomes.push({ conversationId: id, ok: false, firstSeq: first.seq, error: { code: 'lease_lost', message: `node ${this.#nodeId} lost the lease of ${id}` } });
        for (const l of this.#lost) l(id);
        continue;
      }
      const [outcome] = await this.#c.shared.commit([entry], options);
      if (!outcome) throw new Error('no outcome');
      outcomes.push(outcome);
      if (outcome.ok) this.#c.grew(id, outcome.lastSeq);
    }
    return outcomes;
  }

  watchLeases(listener: (id: string) => void): () => void {
    this.#lost.add(listener);
    return () => this.#lost.delete(listener);
  }

  read(id: string, options?: ReadOptions): AsyncIterable<LogRecord> {
    return this.#c.shared.read(id, options);
  }
  head(id: string): Promise<LogRecord> {
    return this.#c.shared.head(id);
  }
  lastRecordOf(id: string, type: LogRecord['type'], options?: { readonly upToSeq?: number }): Promise<LogRecord | null> {
    return this.#c.shared.lastRecordOf(id, type, options);
  }
  exists(id: string): Promise<boolean> {
    return this.#c.shared.exists(id);
  }
  list(query?: ListQuery) {
    return this.#c.shared.list(query);
  }
  summary(id: string) {
    return this.#c.shared.summary(id);
  }
  archive(id: string) {
    return this.#c.shared.archive(id);
  }
  unarchive(id: string) {
    return this.#c.shared.unarchive(id);
  }
  delete(id: string) {
    return this.#c.shared.delete(id);
  }
  async close(): Promise<void> {
    const held = [...this.#held.keys()];
    for (const id of held) await this.release(id);
  }
}
