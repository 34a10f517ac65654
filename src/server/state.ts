/**
 * A conversation's live state as the console shows it: its public status, the active state
 * nodes of its statechart (for the highlighted diagram), and what waits for a decision.
 */
import { conversationMachine } from '../../machines/conversation.machine.js';
import type { ConversationStatus } from '../../machines/conversation.machine.js';
import { toMermaid } from '../diagram.js';
import type { Conversation, PendingApprovalInfo, Residency } from '../runtime/conversation.js';

/** The state of one conversation (the `state` message of the WebSocket, `GET …/state`). */
export interface ConversationState {
  readonly conversationId: string;
  /** `idle`, `active`, `processing`, `error` or `closed`. */
  readonly status: ConversationStatus;
  /**
   * Ids of the active state nodes of the conversation machine, outermost first (the root
   * excluded), e.g. `['conversation.processing', 'conversation.processing.awaitingApproval']`.
   * Empty when the conversation has no actor (closed).
   */
  readonly active: readonly string[];
  readonly name: string | null;
  /** The running turn's id, or null. */
  readonly turnId: string | null;
  /** Approvals waiting for a decision, with the item to approve. */
  readonly pendingApprovals: readonly PendingApprovalInfo[];
  /** Inputs queued behind the running turn. */
  readonly queued: number;
  /** Whether its actor runs (`active`), it waits in its log (`dormant`, `passivated`), another node of the cluster runs it (`remote`), or `closed`. */
  readonly residency: Residency;
  /** The node that runs it when it is `remote`; null otherwise. */
  readonly owner: string | null;
}

interface NodeLike {
  readonly id: string;
  readonly parent?: unknown;
}

/** The active state node ids of a machine snapshot (the root excluded), outermost first. */
export function activeNodeIds(snapshot: unknown): string[] {
  const nodes = (snapshot as { _nodes?: readonly NodeLike[] } | null)?._nodes;
  if (!Array.isArray(nodes)) return [];
  return nodes.filter((n) => n.parent !== undefined).map((n) => n.id);
}

/**
 * The state of a conversation the runtime holds. Read without bringing it back: a dormant or
 * passivated conversation shows the state its log holds (no active state nodes).
 */
export function conversationState(conversation: Conversation): ConversationState {
  const info = conversation.info();
  const actor = info.residency === 'active' ? conversation.actor : null;
  const value = info.state === 'closed' ? null : conversation.stateValue();
  return {
    conversationId: conversation.id,
    status: info.state,
    active: actor && info.state !== 'closed' ? activeNodeIds(actor.getSnapshot()) : value !== null ? nodeIdsOf(value) : [],
    name: info.state === 'closed' ? null : info.name,
    turnId: info.turnId,
    pendingApprovals: info.pendingApprovals,
    queued: info.queued,
    residency: info.residency,
    owner: info.owner ?? null,
  };
}

/** The state node ids a conversation machine state value names (the root excluded), outermost first. */
function nodeIdsOf(value: unknown, prefix = 'conversation'): string[] {
  if (typeof value === 'string') return [`${prefix}.${value}`];
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, inner]) => [`${prefix}.${key}`, ...nodeIdsOf(inner, `${prefix}.${key}`)]);
}

/** A key that changes whenever what the console shows of a state changes. */
export function stateKey(state: ConversationState): string {
  return `${state.status}|${state.residency}|${state.owner ?? ''}|${state.active.join(',')}|${state.turnId ?? ''}|${state.pendingApprovals.map((p) => p.callId).join(',')}|${state.queued}|${state.name ?? ''}`;
}

/** The conversation statechart (Mermaid `stateDiagram-v2`) with `active` highlighted. */
export function statechart(active: readonly string[] = []): string {
  return toMermaid(conversationMachine, { active });
}
