/**
 * A conversation's control state as a replay of its log rebuilds it: what the conversation
 * actor resumes from (its queue, the turn a process left open, the failed turn `retry` runs).
 * Produced by the fold (`fold.ts`), consumed by the conversation machine.
 */
import type { TurnError, TurnKind } from '../protocol/events.js';
import type { ThreadItem, Usage, UserInputItem } from '../protocol/items.js';
import type { ConversationConfig } from '../protocol/records.js';

/** An approval a turn is waiting for: its call id and the item to approve. */
export interface PendingApproval {
  readonly callId: string;
  readonly item: ThreadItem;
}

/** Input waiting to become a turn. */
export interface QueuedInput {
  readonly submissionId: string;
  readonly items: readonly UserInputItem[];
  /** Id of the `user_message` item it becomes. */
  readonly itemId: string;
}

/** A turn left open by a process that ended (or by passivation), restored from the log. */
export interface RestoredTurn {
  readonly id: string;
  readonly number: number;
  /** `seq` of the turn's first record. */
  readonly startSeq: number;
  readonly kind: TurnKind;
  readonly input: readonly UserInputItem[];
  readonly submissionId: string | null;
  readonly pending: readonly PendingApproval[];
  readonly items: readonly ThreadItem[];
}

/** The turn that failed last, which `retry` runs again. */
export interface FailedTurn {
  readonly turnId: string;
  readonly kind: TurnKind;
  readonly input: readonly UserInputItem[];
  readonly error: TurnError;
}

/** A conversation's state rebuilt from its log. */
export interface RestoredConversation {
  /** `seq` of the next record. */
  readonly nextSeq: number;
  readonly config: ConversationConfig;
  readonly name: string | null;
  /** Turns started so far. */
  readonly turns: number;
  /** Turns in the model-visible history. */
  readonly historyTurns: number;
  /** Cumulative usage (tokens). */
  readonly usage: Usage;
  /** Approval keys granted `approved_for_session`. */
  readonly sessionApprovals: readonly string[];
  readonly queue: readonly QueuedInput[];
  readonly openTurn: RestoredTurn | null;
  readonly failed: FailedTurn | null;
}
