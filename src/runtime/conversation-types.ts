/**
 * The shapes around a conversation handle: what it shows for display, what its subscribers get,
 * and what it needs from its runtime.
 */
import type { AnyEventObject } from 'xstate';
import type { ConversationContext, ConversationStatus } from '../../machines/conversation.machine.js';
import type { ConversationSeed } from '../../machines/shard.machine.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { ThreadItem, Usage } from '../protocol/items.js';
import type { ConversationFold } from '../log/fold.js';
import type { ConversationConfig, LogRecord } from '../protocol/records.js';
import type { ClusterNode } from './cluster.js';
import type { ContextOptions } from './context-window.js';
import type { RemoteFollower } from './remote.js';

/** A streamed turn, as the Codex SDK's `runStreamed` result. */
export interface StreamedTurn {
  /** `thread.started`, then the turn's events, ending with its `turn.completed`, `turn.failed` or `turn.aborted`. */
  readonly events: AsyncIterable<ThreadEvent>;
}

/** An approval waiting for a decision. */
export interface PendingApprovalInfo {
  readonly turnId: string;
  readonly callId: string;
  readonly item: ThreadItem;
}

/** Where a conversation lives now (see `Conversation`): `remote` when another node of the cluster owns it. */
export type Residency = 'active' | 'dormant' | 'passivated' | 'remote' | 'closed';

/** A snapshot of a conversation for display. */
export interface ConversationInfo {
  readonly id: string;
  readonly state: ConversationStatus;
  /** Whether its actor runs now (`active`), waits in its log (`dormant`, `passivated`), or runs on another node (`remote`). */
  readonly residency: Residency;
  /** The node that owns it, when it is `remote`. */
  readonly owner?: string;
  readonly name: string | null;
  readonly config: ConversationConfig;
  readonly turnId: string | null;
  readonly pendingApprovals: readonly PendingApprovalInfo[];
  readonly queued: number;
  readonly usage: Usage;
  /** Why the conversation is in `error`: a failed turn or store write, its message and code (`store_error`, `lease_lost`, …). */
  readonly error: { readonly kind: string; readonly message: string; readonly code: string } | null;
}

/** A subscriber to a conversation's events. */
export type Listener = (event: ThreadEvent) => void;

/** A machine snapshot as far as a conversation handle uses it. */
export interface SnapshotView {
  readonly value: unknown;
  readonly context: ConversationContext;
  readonly status?: string;
  can(event: AnyEventObject): boolean;
}

/** What a conversation needs from its runtime. */
export interface ConversationDeps {
  /** Report an error that has nowhere else to go (a throwing listener). */
  readonly report: (error: unknown, conversationId: string) => void;
  /** New submission ids. */
  readonly newId: () => string;
  /** Context windows and compaction settings. */
  readonly context?: ContextOptions;
  /** The runtime is shutting down: nothing new is taken. */
  readonly closing: () => boolean;
  /** Ask the supervisor to activate the conversation (from `seed`, or from its log). */
  readonly activate: (id: string, seed: ConversationSeed | null) => void;
  /** Give the supervisor an event for the conversation, to deliver once it is active. */
  readonly deliver: (id: string, event: AnyEventObject, seed: ConversationSeed | null) => void;
  /** The time of the actor system's clock (ms since the epoch). */
  readonly now: () => number;
  /** Ask the supervisor to end the conversation without its actor. */
  readonly terminate: (id: string) => void;
  /** The machine snapshot a conversation that is not active would have: to check ops against. */
  readonly preview: (rest: { readonly value: unknown; readonly context: ConversationContext }) => SnapshotView;
  /** The runtime's node of a cluster, when its store is shared by several nodes. */
  readonly cluster?: ClusterDeps;
}

/** What a conversation owned by another node needs: routing to its owner, following its log. */
export interface ClusterDeps {
  readonly node: ClusterNode;
  /** A follower of the conversation's log, owned by `owner`, from `fold` on (not started). */
  readonly follower: (id: string, owner: string, fold: ConversationFold, onRecord: (record: LogRecord, events: readonly ThreadEvent[]) => void) => RemoteFollower;
  /** The handle is closed: the runtime forgets it. */
  readonly forget: (id: string) => void;
}

/** Options of `appendRecords`. */
export interface AppendOptions {
  /** The `seq` the first draft must get (the conversation's next `seq`): refused otherwise, as an event store's expected revision. */
  readonly expectedSeq?: number;
  /** Put the user messages among the drafts into the global message history (default true). */
  readonly remember?: boolean;
}
