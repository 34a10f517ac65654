/**
 * The agent interface (SPEC §6): the model side of a conversation. An agent is a function
 * from one turn to an async stream of item events. Colloquy runs it inside the turn actor,
 * records what it yields, and cancels it through `turn.signal`.
 */
import type { RateLimitSnapshot, TurnKind } from '../protocol/events.js';
import type { ThreadItem, Usage, UserInputItem } from '../protocol/items.js';
import type { ApprovalDecision } from '../protocol/ops.js';
import type { ConversationConfig } from '../protocol/records.js';

/**
 * What an agent yields (or passes to `turn.emit`).
 *
 * - `item.started` / `item.updated`: progress of an item, shown to subscribers, not recorded.
 * - `item.completed`: the final form of an item; recorded in the log and added to history.
 * - `usage`: tokens this turn consumed so far (added up over the turn).
 * - `compaction`: for a `compact` turn, the summary that replaces the history.
 * - `rate_limits`: the model endpoint's latest rate-limit figures (shown, not recorded).
 * - `retrying`: a model request failed and is tried again (shown, not recorded).
 *
 * Each `usage` is taken as one model request's: the last one's input tokens are how full the
 * context is (for automatic compaction).
 */
export type AgentEvent =
  | { readonly type: 'item.started'; readonly item: ThreadItem }
  | { readonly type: 'item.updated'; readonly item: ThreadItem }
  | { readonly type: 'item.completed'; readonly item: ThreadItem }
  | { readonly type: 'usage'; readonly usage: Usage }
  | { readonly type: 'compaction'; readonly summary: string }
  | { readonly type: 'rate_limits'; readonly snapshot: RateLimitSnapshot }
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly message: string };

/** An approval to ask for: the call id it is answered under and the item it concerns. */
export interface ApprovalRequest {
  readonly callId: string;
  readonly item: ThreadItem;
}

/** What a turn that was interrupted by a restart had already done. */
export interface ResumedTurn {
  /** Items the turn recorded before the restart, in order. */
  readonly items: readonly ThreadItem[];
  /** Approvals it was waiting for; asking again with the same `callId` waits for the same decision. */
  readonly approvals: readonly ApprovalRequest[];
}

/** One turn, as an agent sees it. */
export interface AgentTurn {
  readonly conversationId: string;
  readonly turnId: string;
  /** 1-based number of the turn in its conversation. */
  readonly number: number;
  readonly kind: TurnKind;
  /** The user's input that started the turn (empty for `compact` turns). */
  readonly input: readonly UserInputItem[];
  /**
   * Model-visible history before this turn, oldest first: every item of earlier turns since
   * the last compaction. Read-only; valid for the duration of the turn.
   */
  readonly history: readonly ThreadItem[];
  /** The summary of the history that compaction replaced, or null. */
  readonly summary: string | null;
  /** The settings the turn runs with (model, instructions, cwd, approval policy). */
  readonly config: ConversationConfig;
  /** Aborted when the turn is interrupted; stop promptly (a cooperative agent ends within ms). */
  readonly signal: AbortSignal;
  /** Set when the turn is being resumed after a restart. */
  readonly resumed: ResumedTurn | null;
  /** A new item id (`item_<n>`, unique in the conversation). */
  newItemId(): string;
  /**
   * Ask for approval of a tool call. Resolves with the decision: at once with `approved`
   * when the approval policy is `never` or the same request was `approved_for_session`;
   * otherwise when the user decides. `abort` means the turn is being interrupted.
   */
  requestApproval(request: ApprovalRequest): Promise<ApprovalDecision>;
  /**
   * Take the input steered into the turn since the last call (oldest first); each becomes a
   * recorded `user_message` of this turn. Call it between model requests, as Codex does.
   */
  takeSteeredInput(): UserInputItem[][];
  /** Report an event out of band (the same as yielding it). */
  emit(event: AgentEvent): void;
}

/** An agent: one turn in, item events out. Throwing (or rejecting) fails the turn. */
export type Agent = (turn: AgentTurn) => AsyncIterable<AgentEvent>;

/** Rough token count of a text, for agents without a tokenizer: 1 token per 4 characters. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Wait `ms`, or until `signal` aborts (then resolve early). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
