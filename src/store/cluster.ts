/**
 * What a store shared by a cluster of runtime nodes offers beyond the `Store` contract: who owns
 * a conversation now, messages between nodes, and news of a log's growth. The store is the
 * cluster's only channel (PostgreSQL: lease rows, `LISTEN`/`NOTIFY`), so a node needs nothing
 * but the database to find and reach another (as Orleans' grain directory and Akka's shard
 * coordinator are found through their cluster, not configured).
 *
 * Delivery is at most once and unordered across connections: a message may be lost (its
 * receiver reconnecting, the receiver gone). Senders resend after a silence with the same
 * request id, and receivers answer a request id once (see the runtime's `cluster.ts`).
 */
import type { SerializedError } from '../error-wire.js';
import type { RecordDraft } from '../log/draft.js';
import type { Op } from '../protocol/ops.js';
import type { LogRecord } from '../protocol/records.js';

/** What a node asks the owner of a conversation to do for it. */
export type RoutedRequest =
  /** Submit an op with the caller's submission id (the owner numbers its items). */
  | { readonly kind: 'op'; readonly op: Op; readonly submissionId: string }
  /** Append a client's records (as `Conversation.appendRecords`). */
  | {
      readonly kind: 'append';
      readonly drafts: readonly RecordDraft[];
      readonly submissionId: string;
      readonly expectedSeq?: number;
      readonly remember: boolean;
    }
  /** Close the conversation (as `Conversation.close`). */
  | { readonly kind: 'close' }
  /** Stop the conversation without writing more (before it is deleted). */
  | { readonly kind: 'end' };

/** How a routed request ended on the owner. */
export type RoutedOutcome =
  /** Done (its records durable); an append's records as written. */
  | { readonly ok: true; readonly records?: readonly LogRecord[] }
  /** Refused or failed there, with the typed error a local call would have thrown. */
  | { readonly ok: false; readonly error: SerializedError }
  /** That node does not own the conversation: `owner` does (null: nobody does now). */
  | { readonly ok: false; readonly redirect: string | null };

/** A message between two nodes. */
export type NodeMessage =
  | {
      readonly type: 'request';
      /** Unique per request; the same when it is sent again. */
      readonly requestId: string;
      readonly from: string;
      readonly conversationId: string;
      readonly request: RoutedRequest;
    }
  | { readonly type: 'reply'; readonly requestId: string; readonly from: string; readonly outcome: RoutedOutcome };

/** The cluster side of a store (see the module doc). */
export interface ClusterLink {
  /** This node's id: the owner its leases name. */
  readonly nodeId: string;
  /** How long a lease lasts without renewal (ms): a dead owner's conversations are free after it. */
  readonly leaseTtlMs: number;
  /** The live owners of the conversations `ids` (leases held and not expired); ids nobody owns are absent. */
  ownersOf(ids: readonly string[]): Promise<Map<string, string>>;
  /** Send `message` to node `to` (at most once). @throws {StoreError} when the store cannot be reached. */
  send(to: string, message: NodeMessage): Promise<void>;
  /** Listen to messages for this node; returns the unsubscribe function. */
  onMessage(listener: (message: NodeMessage) => void): () => void;
  /**
   * Listen to the growth of conversation `id`'s log: `listener(lastSeq)` after a commit that
   * wrote up to `lastSeq`, on any node (possibly late or coalesced: read the log to catch up),
   * and `listener(null)` once following is in place and whenever news may have been missed (a
   * reconnection): read the log to catch up. Returns the unsubscribe function.
   */
  follow(id: string, listener: (lastSeq: number | null) => void): () => void;
}
