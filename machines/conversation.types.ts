/**
 * The conversation actor's types: its input, context, events and what it emits. The
 * reducers (`conversation.steps.ts`) and the statechart (`conversation.machine.ts`) share them.
 */
import type { AnyActorRef, DoneActorEvent, ErrorActorEvent } from 'xstate';
import type { RecordDraft } from '../src/log/draft.js';
import type { QueuedInput, RestoredConversation } from '../src/log/restored.js';
import type { ThreadEvent, TurnKind } from '../src/protocol/events.js';
import type { ThreadItem, Usage, UserInputItem } from '../src/protocol/items.js';
import type { OpOf, OpType } from '../src/protocol/ops.js';
import type { ConversationConfig, LogRecord, SessionMetaPayload } from '../src/protocol/records.js';
import type { PersistReply } from './persistence.machine.js';
import type { TurnCommand, TurnInput, TurnOutcome, TurnReport } from './turn.machine.js';

export type { QueuedInput, RestoredConversation, RestoredTurn, FailedTurn } from '../src/log/restored.js';

/** The public state of a conversation (SPEC §3). */
export type ConversationStatus = 'idle' | 'active' | 'processing' | 'error' | 'closed';

/** The turn being run. */
export interface ActiveTurn {
  readonly id: string;
  readonly number: number;
  readonly kind: TurnKind;
  readonly input: readonly UserInputItem[];
  readonly itemId: string | null;
  readonly submissionId: string | null;
  /** `seq` of the turn's first record. */
  readonly startSeq: number;
  /** Approvals the turn waits for: call id → the item to approve. */
  readonly pending: Readonly<Record<string, ThreadItem>>;
  /** Items started and not completed (tool calls running): completed as aborted if the turn is. */
  readonly open: Readonly<Record<string, ThreadItem>>;
}

/** Why the conversation is in `error`, and what `retry` runs. */
export interface ConversationError {
  readonly kind: 'turn' | 'store';
  readonly message: string;
  readonly code: string;
  /** The turn `retry` runs again, or null when there is none. */
  readonly retry: { readonly kind: TurnKind; readonly input: readonly UserInputItem[]; readonly failedTurnId: string } | null;
}

/** What a conversation actor is started with. */
export interface ConversationInput {
  readonly id: string;
  /** The persistence actor records are sent to. */
  readonly persistence: AnyActorRef;
  /** A new conversation: its `session_meta`, recorded at `seq`. */
  readonly create?: { readonly meta: SessionMetaPayload; readonly seq: number };
  /** A resumed conversation: its state replayed from the log. */
  readonly restore?: RestoredConversation;
}

/** What a conversation is fixed with for its life: its id and where its records go. */
export interface ConversationLog {
  readonly id: string;
  readonly persistence: AnyActorRef;
}

/**
 * The conversation's context. Keep it at 17 keys or fewer: XState copies the context with
 * `Object.assign` on every `assign`, and V8 copies an object of 20 or more keys in dictionary
 * mode, about 30 times slower (tens of µs per copy, several copies per turn).
 */
export interface ConversationContext {
  /** The conversation's id and the persistence actor its records go to (fixed for its life). */
  readonly log: ConversationLog;
  /** Next `seq` to assign. */
  readonly seq: number;
  /** Highest `seq` the persistence actor acknowledged. */
  readonly durableSeq: number;
  readonly config: ConversationConfig;
  readonly name: string | null;
  /** Turns started so far; a turn's number is 1-based. */
  readonly turns: number;
  /** Turns in the model-visible history (what `rollback` may drop). */
  readonly historyTurns: number;
  readonly turn: ActiveTurn | null;
  readonly queue: readonly QueuedInput[];
  /** Cumulative usage of every turn (tokens). */
  readonly usage: Usage;
  readonly sessionApprovals: readonly string[];
  /** The turn end to announce once `endSeq` is durable. */
  readonly ending: ThreadEvent | null;
  readonly endSeq: number;
  readonly error: ConversationError | null;
  readonly closeRequested: boolean;
  /** Records numbered but not yet sent to the persistence actor (see `Step.defer`). */
  readonly outbox: readonly LogRecord[];
  /** The context is (nearly) full: a compaction runs before the next turn. */
  readonly compactNext: boolean;
}

type WithSubmission<T> = T & { readonly submissionId: string };
/** An op as delivered to the actor: the op plus its submission id (and item id for input). */
export type OpEvent = {
  [T in OpType]: WithSubmission<OpOf<T>> & (T extends 'user_input' | 'retry' ? { readonly itemId: string } : unknown);
}[OpType];

/**
 * Records a client of the runtime writes into an idle conversation (the Agents SDK session, an
 * importer): the actor numbers them, records them and acknowledges them like its own. They must
 * leave no turn open. `expectedSeq`, when given, must be the conversation's next `seq` (as an
 * event store's expected revision): a writer that read the log before someone else wrote is refused.
 * `remember` puts their user messages into the global message history.
 */
export interface AppendEvent {
  readonly type: 'records.append';
  readonly submissionId: string;
  readonly drafts: readonly RecordDraft[];
  readonly expectedSeq?: number;
  readonly remember?: boolean;
}

/** Events emitted for the runtime, never shown to subscribers. */
export type InternalEmitted =
  | { type: '@colloquy.recorded'; records: readonly LogRecord[] }
  | { type: '@colloquy.durable'; seq: number }
  | { type: '@colloquy.accepted'; submissionId: string; seq: number };

/** What the conversation actor emits: the events subscribers see, and the runtime's own. */
export type ConversationEmitted = ThreadEvent | InternalEmitted;

/** Every event the conversation machine accepts: validated ops, appended records, persistence acknowledgements and failures, and its turn actor's messages. */
export type ConversationEvent =
  | OpEvent
  | AppendEvent
  | TurnReport
  | PersistReply
  | DoneActorEvent<TurnOutcome, 'turn'>
  | ErrorActorEvent<unknown, 'turn'>;

/** What a transition does, computed purely from context and event (see `conversation.steps.ts`). */
export interface Step {
  ctx?: Partial<ConversationContext>;
  records?: RecordDraft[];
  /**
   * Hold the records back and send them with the next records that go (a turn's items go with
   * its end, or with an approval request): fewer messages to the persistence actor per turn.
   */
  defer?: boolean;
  /** No acknowledgement needed: a later acknowledged record of the same turn covers these. */
  noAck?: boolean;
  /** Keep the user messages among these records out of the global message history (records a client appended without `remember`). */
  forget?: boolean;
  emit?: ThreadEvent[];
  toTurn?: TurnCommand[];
  spawn?: TurnInput;
  stopTurn?: boolean;
  unpark?: boolean;
}

/** A reducer: the step a transition takes for an event. */
export type Reducer<E extends ConversationEvent = ConversationEvent> = (ctx: ConversationContext, event: E) => Step;

/** What a conversation must do when its actor starts (from its input). */
export interface BootPlan {
  readonly meta: SessionMetaPayload | null;
  readonly openTurn: RestoredConversation['openTurn'];
  readonly failed: RestoredConversation['failed'];
}
