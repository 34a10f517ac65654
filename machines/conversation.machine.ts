/**
 * The conversation actor: one per conversation.
 *
 *   idle ──user_input──▶ active ──first output──▶ processing ──turn end durable──▶ idle
 *                          (turn admitted)         streaming | awaitingApproval | committing
 *   error  (turn or store failure; `retry` re-runs the failed turn, `reset` returns to idle)
 *   closing ──everything durable──▶ closed (final)
 *
 * It owns the conversation's control state (whose turn, what is queued, what is pending,
 * which `seq` comes next and which is durable) and turns every fact into a log record sent
 * to the persistence actor. A turn's end (`turn.completed`, `turn.aborted`, `turn.failed`)
 * is announced only once its records are acknowledged (durability `sync`: fsynced).
 *
 * Pure: the transitions are reducers (`Step`s) over the context; the only effects are
 * messages to the persistence actor, the turn child, and emitted events.
 */
import {
  and,
  setup,
  type ActorRefFrom,
  type AnyActorRef,
  type DoneActorEvent,
  type ErrorActorEvent,
} from 'xstate';
import { approvalKey } from '../src/protocol/approvals.js';
import type { AbortReason, ThreadEvent, TurnError, TurnKind } from '../src/protocol/events.js';
import { addUsage, inputImages, inputText, ZERO_USAGE, type ThreadItem, type Usage, type UserInputItem } from '../src/protocol/items.js';
import type { BusyMode, OpOf, OpType } from '../src/protocol/ops.js';
import type { ConversationConfig, LogRecord, LogRecordType, RecordedEvent, RecordPayload, SessionMetaPayload } from '../src/protocol/records.js';
import type { PersistFailure, PersistReply, PersistenceEvent } from './persistence.machine.js';
import { turnMachine, type PendingApproval, type SteeredInput, type TurnCommand, type TurnInput, type TurnOutcome, type TurnReport } from './turn.machine.js';

/** The public state of a conversation (SPEC §3). */
export type ConversationStatus = 'idle' | 'active' | 'processing' | 'error' | 'closed';

/** Input waiting to become a turn. */
export interface QueuedInput {
  readonly submissionId: string;
  readonly items: readonly UserInputItem[];
  /** Id of the `user_message` item it becomes. */
  readonly itemId: string;
}

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

/** A turn left open by a process that ended, restored from the log. */
export interface RestoredTurn {
  readonly id: string;
  readonly number: number;
  readonly startSeq: number;
  readonly kind: TurnKind;
  readonly input: readonly UserInputItem[];
  readonly submissionId: string | null;
  readonly pending: readonly PendingApproval[];
  readonly items: readonly ThreadItem[];
}

/** A conversation's state rebuilt from its log (see `src/runtime/fold.ts`). */
export interface RestoredConversation {
  readonly nextSeq: number;
  readonly config: ConversationConfig;
  readonly name: string | null;
  readonly turns: number;
  readonly historyTurns: number;
  readonly usage: Usage;
  readonly sessionApprovals: readonly string[];
  readonly queue: readonly QueuedInput[];
  readonly openTurn: RestoredTurn | null;
  readonly failed: { readonly turnId: string; readonly kind: TurnKind; readonly input: readonly UserInputItem[]; readonly error: TurnError } | null;
}

export interface ConversationInput {
  readonly id: string;
  /** The persistence actor records are sent to. */
  readonly persistence: AnyActorRef;
  /** A new conversation: its `session_meta`, recorded at `seq`. */
  readonly create?: { readonly meta: SessionMetaPayload; readonly seq: number };
  /** A resumed conversation: its state replayed from the log. */
  readonly restore?: RestoredConversation;
}

/**
 * The conversation's context. Keep it at 17 keys or fewer: XState copies the context with
 * `Object.assign` on every `assign`, and V8 copies an object of 20 or more keys in dictionary
 * mode, about 30 times slower (tens of µs per copy, several copies per turn).
 */
export interface ConversationContext {
  /** The conversation's id and the persistence actor its records go to (fixed for its life). */
  readonly log: { readonly id: string; readonly persistence: AnyActorRef };
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

/** Events emitted for the runtime, never shown to subscribers. */
export type InternalEmitted =
  | { type: '@colloquy.recorded'; records: readonly LogRecord[] }
  | { type: '@colloquy.durable'; seq: number }
  | { type: '@colloquy.accepted'; submissionId: string; seq: number };

export type ConversationEmitted = ThreadEvent | InternalEmitted;

/** Every event the conversation machine accepts: validated ops, persistence acknowledgements and failures, and its turn actor's messages. */
export type ConversationEvent =
  | OpEvent
  | TurnReport
  | PersistReply
  | DoneActorEvent<TurnOutcome, 'turn'>
  | ErrorActorEvent<unknown, 'turn'>;

/** A record before it gets its `seq` and `ts`. */
type Draft = { [T in LogRecordType]: { type: T; payload: RecordPayload<T> } }[LogRecordType];

/** What a transition does, computed purely from context and event. */
interface Step {
  ctx?: Partial<ConversationContext>;
  records?: Draft[];
  /**
   * Hold the records back and send them with the next records that go (a turn's items go with
   * its end, or with an approval request): fewer messages to the persistence actor per turn.
   */
  defer?: boolean;
  /** No acknowledgement needed: a later acknowledged record of the same turn covers these. */
  noAck?: boolean;
  emit?: ThreadEvent[];
  toTurn?: TurnCommand[];
  spawn?: TurnInput;
  stopTurn?: boolean;
  unpark?: boolean;
}

const draft = <T extends LogRecordType>(type: T, payload: RecordPayload<T>): Draft => ({ type, payload }) as Draft;

// ——— reducers ———

function userMessage(itemId: string, items: readonly UserInputItem[], submissionId: string | null): ThreadItem {
  const images = inputImages(items);
  return {
    id: itemId,
    type: 'user_message',
    text: inputText(items),
    ...(images.length > 0 ? { images } : {}),
    ...(submissionId ? { submission_id: submissionId } : {}),
  };
}

interface TurnStart {
  id: string;
  kind: TurnKind;
  input: readonly UserInputItem[];
  itemId: string | null;
  submissionId: string | null;
  retryOf?: string;
}

/** Admit a turn: record its context, start and input; spawn the turn actor. */
function startTurn(ctx: ConversationContext, start: TurnStart, base: Step = {}): Step {
  const number = ctx.turns + 1;
  const records: Draft[] = [...(base.records ?? [])];
  const emit: ThreadEvent[] = [...(base.emit ?? [])];
  const started: RecordedEvent = {
    type: 'turn.started',
    turn_id: start.id,
    kind: start.kind,
    ...(start.submissionId ? { submission_id: start.submissionId } : {}),
    ...(start.retryOf ? { retry_of: start.retryOf } : {}),
  };
  records.push(draft('event', started));
  emit.push({ type: 'turn.started', turn_id: start.id, kind: start.kind });
  if (start.itemId !== null) {
    const item = userMessage(start.itemId, start.input, start.submissionId);
    records.push(draft('item', { turn_id: start.id, item }));
    emit.push({ type: 'item.completed', turn_id: start.id, item });
  }
  return {
    ...base,
    records,
    emit,
    noAck: true,
    ctx: {
      ...base.ctx,
      turns: number,
      error: null,
      turn: {
        id: start.id,
        number,
        kind: start.kind,
        input: start.input,
        itemId: start.itemId,
        submissionId: start.submissionId,
        startSeq: ctx.seq + (base.records?.length ?? 0),
        pending: {},
        open: {},
      },
    },
    spawn: {
      conversationId: ctx.log.id,
      turnId: start.id,
      number,
      kind: start.kind,
      input: start.input,
      approvalPolicy: ctx.config.approvalPolicy,
      sessionApprovals: ctx.sessionApprovals,
    },
  };
}

function startQueued(ctx: ConversationContext, base: Step = {}): Step {
  const [next, ...rest] = ctx.queue;
  if (!next) return base;
  return startTurn(
    { ...ctx, ...base.ctx },
    { id: next.submissionId, kind: 'regular', input: next.items, itemId: next.itemId, submissionId: next.submissionId },
    { ...base, ctx: { ...base.ctx, queue: rest } },
  );
}

function queuedEvent(e: WithSubmission<OpOf<'user_input'>>, mode: 'steer' | 'queue' | 'interrupt'): ThreadEvent {
  return { type: 'input.queued', submission_id: e.submissionId, mode, text: inputText(e.items) };
}

/** Input that arrives while a turn runs, by its busy mode. */
function busyInput(ctx: ConversationContext, e: OpEvent & { type: 'user_input' }, turnOpen: boolean): Step {
  const mode: BusyMode = e.mode ?? 'queue';
  const queued: QueuedInput = { submissionId: e.submissionId, items: e.items, itemId: e.itemId };
  if (mode === 'steer' && turnOpen) {
    const steered: SteeredInput = queued;
    return {
      records: [draft('input_queued', { submission_id: e.submissionId, mode: 'steer', items: [...e.items], item_id: e.itemId })],
      emit: [queuedEvent(e, 'steer')],
      toTurn: [{ type: 'steer', input: steered }],
    };
  }
  if (mode === 'interrupt') {
    return {
      records: [draft('input_queued', { submission_id: e.submissionId, mode: 'interrupt', items: [...e.items], item_id: e.itemId })],
      emit: [queuedEvent(e, 'interrupt')],
      ctx: { queue: [queued, ...ctx.queue] },
      toTurn: turnOpen ? [{ type: 'interrupt', reason: 'replaced' }] : [],
    };
  }
  return {
    records: [draft('input_queued', { submission_id: e.submissionId, mode: 'queue', items: [...e.items], item_id: e.itemId })],
    emit: [queuedEvent(e, 'queue')],
    ctx: { queue: [...ctx.queue, queued] },
  };
}

function turnItem(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.item' }>): Step {
  const turn = ctx.turn;
  const turnId = turn?.id ?? '';
  if (e.phase !== 'completed') {
    return {
      emit: [{ type: e.phase === 'started' ? 'item.started' : 'item.updated', turn_id: turnId, item: e.item }],
      ...(turn ? { ctx: { turn: { ...turn, open: { ...turn.open, [e.item.id]: e.item } } } } : {}),
    };
  }
  let patch: Partial<ConversationContext> | undefined;
  if (turn && e.item.id in turn.open) {
    const open: Record<string, ThreadItem> = { ...turn.open };
    delete open[e.item.id];
    patch = { turn: { ...turn, open } };
  }
  return {
    records: [draft('item', { turn_id: turnId, item: e.item })],
    emit: [{ type: 'item.completed', turn_id: turnId, item: e.item }],
    defer: true,
    ...(patch ? { ctx: patch } : {}),
  };
}

/** An item a turn left running, completed as cut off (so its call has an output in history). */
function abortedItem(item: ThreadItem): ThreadItem {
  switch (item.type) {
    case 'command_execution':
      return { ...item, status: 'failed', aggregated_output: `${item.aggregated_output}${item.aggregated_output ? '\n' : ''}(aborted)` };
    case 'tool_call':
      return { ...item, status: 'failed', output: item.output ?? 'aborted' };
    case 'mcp_tool_call':
      return { ...item, status: 'failed', error: { message: 'aborted' } };
    case 'file_change':
      return { ...item, status: 'failed' };
    default:
      return item;
  }
}

/** What a model is told of a turn that did not complete (as Codex's `<turn_aborted>` marker). */
export function abortMarkerText(reason: AbortReason): string {
  return `<turn_aborted>The previous turn was ${reason === 'replaced' ? 'replaced by new input' : 'interrupted'} (${reason}) before it completed; tool calls that had not finished were cancelled.</turn_aborted>`;
}

function noticed(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.notice' }>): Step {
  const turnId = ctx.turn?.id ?? '';
  const n = e.notice;
  return {
    emit: [
      n.type === 'rate_limits'
        ? { type: 'rate_limits.updated', turn_id: turnId, rate_limits: n.snapshot }
        : { type: 'model.retrying', turn_id: turnId, attempt: n.attempt, delay_ms: Math.round(n.delayMs), message: n.message },
    ],
  };
}

function approvalRequested(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.approval' }>): Step {
  const turn = ctx.turn;
  if (!turn) return {};
  return {
    ctx: { turn: { ...turn, pending: { ...turn.pending, [e.callId]: e.item } } },
    records: [draft('approval_requested', { turn_id: turn.id, call_id: e.callId, item: e.item })],
    emit: [{ type: 'approval.requested', turn_id: turn.id, callId: e.callId, item: e.item }],
  };
}

function approvalDecided(ctx: ConversationContext, e: OpEvent & { type: 'approval' }): Step {
  const turn = ctx.turn;
  const item = turn?.pending[e.callId];
  if (!turn || !item) return {};
  const pending: Record<string, ThreadItem> = { ...turn.pending };
  delete pending[e.callId];
  const key = approvalKey(item);
  return {
    ctx: {
      turn: { ...turn, pending },
      ...(e.decision === 'approved_for_session' && !ctx.sessionApprovals.includes(key)
        ? { sessionApprovals: [...ctx.sessionApprovals, key] }
        : {}),
    },
    records: [draft('approval_resolved', { turn_id: turn.id, call_id: e.callId, decision: e.decision })],
    emit: [{ type: 'approval.resolved', turn_id: turn.id, callId: e.callId, decision: e.decision }],
    toTurn: [{ type: 'approval.decide', callId: e.callId, decision: e.decision }],
  };
}

function compacted(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.compacted' }>): Step {
  const turnId = ctx.turn?.id ?? '';
  return {
    ctx: { historyTurns: e.keptTurns, compactNext: false },
    records: [
      draft('compacted', {
        turn_id: turnId,
        summary: e.summary,
        kept_from_seq: e.keptFromSeq,
        from_seq: Math.min(e.keptFromSeq, ctx.turn?.startSeq ?? e.keptFromSeq),
        kept_turns: e.keptTurns,
        next_item: e.nextItem,
        turns: ctx.turns,
        usage: ctx.usage,
        config: ctx.config,
        ...(ctx.name !== null ? { name: ctx.name } : {}),
        session_approvals: [...ctx.sessionApprovals],
      }),
    ],
    emit: [{ type: 'context.compacted', turn_id: turnId, kept_from_seq: e.keptFromSeq }],
  };
}

/** The turn actor ended: record how, and wait for that record to be durable. */
function turnEnded(ctx: ConversationContext, outcome: TurnOutcome): Step {
  const turn = ctx.turn;
  if (!turn) return { stopTurn: true };
  const leftover: QueuedInput[] = outcome.steered.map((s) => ({ submissionId: s.submissionId, items: s.items, itemId: s.itemId }));
  const queue = leftover.length > 0 ? [...leftover, ...ctx.queue] : ctx.queue;
  const counts = turn.kind === 'regular' ? 1 : 0;
  let event: RecordedEvent;
  let ending: ThreadEvent;
  let usage = ctx.usage;
  let error: ConversationError | null = null;
  const extra: Draft[] = [];
  if (outcome.status === 'completed') {
    usage = addUsage(ctx.usage, outcome.usage);
    event = { type: 'turn.completed', turn_id: turn.id, usage, turn_usage: outcome.usage };
    ending = { type: 'turn.completed', turn_id: turn.id, usage, turn_usage: outcome.usage };
  } else if (outcome.status === 'aborted') {
    usage = addUsage(ctx.usage, outcome.usage);
    event = { type: 'turn.aborted', turn_id: turn.id, reason: outcome.reason, usage };
    ending = { type: 'turn.aborted', turn_id: turn.id, reason: outcome.reason };
    // Tool calls left running get their (aborted) end, and the model gets a marker.
    for (const item of Object.values(turn.open)) extra.push(draft('item', { turn_id: turn.id, item: abortedItem(item) }));
    if (turn.kind === 'regular') {
      const marker: ThreadItem = { id: `aborted_${turn.id}`, type: 'turn_aborted', reason: outcome.reason, text: abortMarkerText(outcome.reason) };
      extra.push(draft('item', { turn_id: turn.id, item: marker }));
    }
  } else {
    usage = addUsage(ctx.usage, outcome.usage);
    event = { type: 'turn.failed', turn_id: turn.id, error: outcome.error, usage };
    ending = { type: 'turn.failed', turn_id: turn.id, error: outcome.error };
    error = {
      kind: 'turn',
      message: outcome.error.message,
      code: outcome.error.code ?? 'turn_failed',
      retry: { kind: turn.kind, input: turn.input, failedTurnId: turn.id },
    };
  }
  return {
    stopTurn: true,
    records: [...extra, draft('event', event)],
    ctx: {
      queue,
      usage,
      historyTurns: ctx.historyTurns + counts,
      ending,
      endSeq: ctx.seq + extra.length,
      error: ctx.error ?? error,
      ...(outcome.compactNext ? { compactNext: true } : {}),
    },
  };
}

function storeFailed(ctx: ConversationContext, e: Extract<PersistReply, { type: 'persist.failed' }>): Step {
  const turn = ctx.turn;
  const failure: PersistFailure = e.error;
  // A running turn is interrupted, and `retry` runs it again. A turn that already ended keeps
  // its end pending: leaving `error` writes the held-back records and then announces it.
  const live = turn !== null && ctx.ending === null;
  return {
    ctx: {
      error: {
        kind: 'store',
        message: failure.message,
        code: failure.code,
        retry: live && turn.kind !== 'compact' ? { kind: turn.kind, input: turn.input, failedTurnId: turn.id } : null,
      },
    },
    emit: [{ type: 'error', message: `could not write the conversation log: ${failure.message}` }],
    toTurn: live ? [{ type: 'interrupt', reason: 'store_failure' }] : [],
  };
}

function nameSet(e: OpEvent & { type: 'set_name' }): Step {
  return {
    ctx: { name: e.name },
    records: [draft('event', { type: 'thread.name_updated', name: e.name })],
    emit: [{ type: 'thread.name_updated', name: e.name }],
  };
}

function contextOverridden(ctx: ConversationContext, e: OpEvent & { type: 'override_turn_context' }): Step {
  const config: ConversationConfig = { ...ctx.config };
  if (e.model !== undefined) config.model = e.model;
  if (e.instructions !== undefined) config.instructions = e.instructions;
  if (e.cwd !== undefined) config.cwd = e.cwd;
  if (e.approvalPolicy !== undefined) config.approvalPolicy = e.approvalPolicy;
  if (e.sandbox !== undefined) config.sandbox = e.sandbox;
  if (e.outputSchema === null) delete config.outputSchema;
  else if (e.outputSchema !== undefined) config.outputSchema = e.outputSchema;
  return { ctx: { config }, records: [draft('turn_context', { turn_id: null, config })] };
}

function rolledBack(ctx: ConversationContext, e: OpEvent & { type: 'rollback' }): Step {
  return {
    ctx: { historyTurns: ctx.historyTurns - e.turns },
    records: [draft('rolled_back', { turns: e.turns })],
    emit: [{ type: 'thread.rolled_back', turns: e.turns }],
  };
}

function retryTurn(ctx: ConversationContext, e: OpEvent & { type: 'retry' }): Step {
  const retry = ctx.error?.retry;
  const unpark = ctx.error?.kind === 'store';
  const base: Step = { unpark, ctx: { error: null } };
  if (!retry) return startQueued({ ...ctx, error: null }, base);
  // The retried turn replaces the failed one in the history.
  if (retry.kind === 'regular') base.ctx = { ...base.ctx, historyTurns: Math.max(0, ctx.historyTurns - 1) };
  return startTurn(
    ctx,
    {
      id: e.submissionId,
      kind: retry.kind,
      input: retry.input,
      itemId: retry.kind === 'compact' ? null : e.itemId,
      submissionId: e.submissionId,
      retryOf: retry.failedTurnId,
    },
    base,
  );
}

/**
 * `retry` of a turn that failed because the context was full: the failed input is queued
 * again (as new input) and a compaction runs first.
 */
function queueRetry(ctx: ConversationContext, e: OpEvent & { type: 'retry' }): Step {
  const retry = ctx.error?.retry;
  if (!retry) return {};
  const again = { type: 'user_input', items: retry.input, mode: 'queue', submissionId: e.submissionId, itemId: e.itemId } as OpEvent & {
    type: 'user_input';
  };
  return busyInput(ctx, again, false);
}

function leaveError(ctx: ConversationContext): Step {
  return { unpark: ctx.error?.kind === 'store', ctx: { error: null } };
}

/** What a conversation must do when its actor starts (from its input). */
export interface BootPlan {
  readonly meta: SessionMetaPayload | null;
  readonly openTurn: RestoredTurn | null;
  readonly failed: RestoredConversation['failed'];
}

/** The boot plan of an actor's input (carried by its initial event). */
function bootPlan(input: ConversationInput | undefined): BootPlan {
  const r = input?.restore;
  return { meta: input?.create?.meta ?? null, openTurn: r?.openTurn ?? null, failed: r?.failed ?? null };
}

function boot(ctx: ConversationContext, plan: BootPlan): Step {
  const step: Step = { emit: [{ type: 'thread.started', thread_id: ctx.log.id }] };
  const records: Draft[] = [];
  if (plan.meta) records.push(draft('session_meta', plan.meta));
  let patch: Partial<ConversationContext> = {};
  const open = plan.openTurn;
  if (open && open.pending.length > 0) {
    // The process ended while this turn waited for approval: bring the turn back as it was.
    const pending: Record<string, ThreadItem> = {};
    for (const p of open.pending) pending[p.callId] = p.item;
    patch = {
      ...patch,
      turn: {
        id: open.id,
        number: open.number,
        kind: open.kind,
        input: open.input,
        itemId: null,
        submissionId: open.submissionId,
        startSeq: open.startSeq,
        pending,
        open: { ...pending },
      },
    };
    return {
      ...step,
      records,
      ctx: patch,
      spawn: {
        conversationId: ctx.log.id,
        turnId: open.id,
        number: open.number,
        kind: open.kind,
        input: open.input,
        approvalPolicy: ctx.config.approvalPolicy,
        sessionApprovals: ctx.sessionApprovals,
        pendingApprovals: open.pending,
        resumedItems: open.items,
      },
    };
  }
  if (open) {
    // The process ended during this turn: it ends aborted, as an interrupted one does. Tool
    // calls it recorded as running get their (aborted) end, and the model gets a marker.
    for (const item of open.items) {
      if ('status' in item && item.status === 'in_progress') records.push(draft('item', { turn_id: open.id, item: abortedItem(item) }));
    }
    if (open.kind === 'regular') {
      const marker: ThreadItem = { id: `aborted_${open.id}`, type: 'turn_aborted', reason: 'restart', text: abortMarkerText('restart') };
      records.push(draft('item', { turn_id: open.id, item: marker }));
    }
    records.push(draft('event', { type: 'turn.aborted', turn_id: open.id, reason: 'restart', usage: ctx.usage }));
  }
  if (plan.failed) {
    const f = plan.failed;
    patch = {
      ...patch,
      error: { kind: 'turn', message: f.error.message, code: f.error.code ?? 'turn_failed', retry: { kind: f.kind, input: f.input, failedTurnId: f.turnId } },
    };
  }
  return { ...step, records, ctx: patch };
}

// ——— the machine ———

type Reducer<E extends ConversationEvent = ConversationEvent> = (ctx: ConversationContext, event: E) => Step;

/** The subset of XState's `enqueue` the executor uses. */
interface Enqueue {
  assign(patch: Partial<ConversationContext>): void;
  sendTo(to: AnyActorRef | string, event: unknown): void;
  emit(event: ConversationEmitted): void;
  spawnChild(src: 'turn', options: { id: string; systemId: string; input: TurnInput }): void;
  stopChild(id: string): void;
}

let lastMs = 0;
let lastIso = '';
/** The time as an ISO string (computed once per millisecond). */
function now(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Deferred records are sent anyway once this many are held. */
const OUTBOX_MAX = 64;

/** Carry out a `Step`: stop/spawn the turn, assign, number and send records, emit, acknowledge the op. */
function execute(ctx: ConversationContext, event: ConversationEvent, enqueue: Enqueue, self: AnyActorRef, step: Step): void {
  if (step.stopTurn) enqueue.stopChild('turn');
  let seq = ctx.seq;
  let records: LogRecord[] | null = null;
  if (step.records && step.records.length > 0) {
    const ts = now();
    records = step.records.map((d) => ({ ts, seq: seq++, type: d.type, payload: d.payload }) as LogRecord);
  }
  const patch: { -readonly [K in keyof ConversationContext]?: ConversationContext[K] } = { ...step.ctx };
  if (seq !== ctx.seq) patch.seq = seq;
  let send: readonly LogRecord[] | null = null;
  if (records) {
    if (step.defer && ctx.outbox.length + records.length < OUTBOX_MAX) patch.outbox = [...ctx.outbox, ...records];
    else {
      send = ctx.outbox.length > 0 ? [...ctx.outbox, ...records] : records;
      if (ctx.outbox.length > 0) patch.outbox = [];
    }
  }
  if (step.ctx || records) enqueue.assign(patch);
  if (step.unpark) enqueue.sendTo(ctx.log.persistence, { type: 'retry', conversationId: ctx.log.id } satisfies PersistenceEvent);
  if (send) {
    const request = { conversationId: ctx.log.id, records: send, replyTo: self, ...(step.noAck ? { ack: false } : {}) };
    enqueue.sendTo(ctx.log.persistence, { type: 'append', request } satisfies PersistenceEvent);
  }
  if (records) enqueue.emit({ type: '@colloquy.recorded', records });
  if (step.emit) for (const e of step.emit) enqueue.emit(e);
  if (step.toTurn) for (const c of step.toTurn) enqueue.sendTo('turn', c);
  if (step.spawn) enqueue.spawnChild('turn', { id: 'turn', systemId: 'turn', input: step.spawn });
  if (isOp(event)) enqueue.emit({ type: '@colloquy.accepted', submissionId: event.submissionId, seq: seq - 1 });
}

const isOp = (e: ConversationEvent): e is OpEvent => 'submissionId' in e;

type Ev<T extends ConversationEvent['type']> = Extract<ConversationEvent, { type: T }>;

const base = setup({
  types: {
    context: {} as ConversationContext,
    events: {} as ConversationEvent,
    input: {} as ConversationInput,
    emitted: {} as ConversationEmitted,
  },
  actors: { turn: turnMachine },
  guards: {
    hasOpenTurn: ({ context }) => context.turn !== null,
    noOpenTurn: ({ context }) => context.turn === null,
    hasEnding: ({ context }) => context.ending !== null,
    compactNext: ({ context }) => context.compactNext,
    retriesRegular: ({ context }) => context.error?.retry?.kind === 'regular',
    hasQueue: ({ context }) => context.queue.length > 0,
    hasError: ({ context }) => context.error !== null,
    hasPending: ({ context }) => context.turn !== null && Object.keys(context.turn.pending).length > 0,
    isPendingCall: ({ context, event }) => event.type === 'approval' && context.turn !== null && event.callId in context.turn.pending,
    endDurable: ({ context }) => context.durableSeq >= context.endSeq,
    allDurable: ({ context }) => context.durableSeq >= context.seq - 1,
    closeRequested: ({ context }) => context.closeRequested,
    canRollback: ({ context, event }) => event.type === 'rollback' && event.turns <= context.historyTurns,
    notReject: ({ event }) => event.type === 'user_input' && event.mode !== 'reject',
  },
});

/** Make a reducer into an XState action. */
const act = <E extends ConversationEvent>(reduce: Reducer<E>) =>
  base.enqueueActions(({ context, event, enqueue, self }) => {
    execute(context, event, enqueue as unknown as Enqueue, self, reduce(context, event as E));
  });

/** The conversation statechart (`idle`, `active`, `processing`, `error`, `closed`), with the turn actor provided by the runtime. Pure: effects are provided actors. */
export const conversationMachine = base.extend({
  actions: {
    // Entry of the initial state: the event is XState's init event, which carries the input.
    boot: act((ctx, e) => boot(ctx, bootPlan((e as unknown as { input?: ConversationInput }).input))),
    startInput: act<Ev<'user_input'>>((ctx, e) =>
      startTurn(ctx, { id: e.submissionId, kind: 'regular', input: e.items, itemId: e.itemId, submissionId: e.submissionId }),
    ),
    startCompact: act<Ev<'compact'>>((ctx, e) =>
      startTurn(ctx, { id: e.submissionId, kind: 'compact', input: [], itemId: null, submissionId: e.submissionId }),
    ),
    startQueued: act((ctx) => startQueued(ctx)),
    startAutoCompact: act((ctx) =>
      startTurn(ctx, { id: `compact-${ctx.log.id.slice(-6)}-${ctx.seq}`, kind: 'compact', input: [], itemId: null, submissionId: null }),
    ),
    busyInput: act<Ev<'user_input'>>((ctx, e) => busyInput(ctx, e, true)),
    queueInput: act<Ev<'user_input'>>((ctx, e) => busyInput(ctx, e, false)),
    turnItem: act<Ev<'turn.item'>>(turnItem),
    notice: act<Ev<'turn.notice'>>(noticed),
    approvalRequested: act<Ev<'turn.approval'>>(approvalRequested),
    approvalDecided: act<Ev<'approval'>>(approvalDecided),
    compacted: act<Ev<'turn.compacted'>>(compacted),
    interruptTurn: act(() => ({ toTurn: [{ type: 'interrupt', reason: 'interrupted' }] })),
    shutdownTurn: act(() => ({ toTurn: [{ type: 'interrupt', reason: 'shutdown' }] })),
    acceptOnly: act(() => ({})),
    turnEnded: act<Ev<'xstate.done.actor.turn'>>((ctx, e) => turnEnded(ctx, e.output)),
    turnCrashed: act<Ev<'xstate.error.actor.turn'>>((ctx, e) =>
      turnEnded(ctx, {
        status: 'failed',
        error: { message: `turn actor crashed: ${e.error instanceof Error ? e.error.message : String(e.error)}`, code: 'turn_crashed' },
        usage: ZERO_USAGE,
        steered: [],
      }),
    ),
    turnEndedInError: act((ctx, e) => {
      const outcome: TurnOutcome =
        e.type === 'xstate.done.actor.turn'
          ? e.output
          : { status: 'aborted', reason: 'store_failure', usage: ZERO_USAGE, steered: [] };
      const step = turnEnded(ctx, outcome);
      return { ...step, ctx: { ...step.ctx, ending: null, turn: null } };
    }),
    announceEnd: act((ctx) => ({
      emit: ctx.ending ? [ctx.ending] : [],
      ctx: { ending: null, turn: null },
    })),
    storeFailed: act<Ev<'persist.failed'>>(storeFailed),
    storeFailedAgain: act<Ev<'persist.failed'>>((ctx, e) => {
      const step = storeFailed(ctx, e);
      return { ...step, toTurn: [] };
    }),
    setName: act<Ev<'set_name'>>((_, e) => nameSet(e)),
    overrideContext: act<Ev<'override_turn_context'>>(contextOverridden),
    rollback: act<Ev<'rollback'>>(rolledBack),
    retry: act<Ev<'retry'>>(retryTurn),
    reset: act((ctx) => leaveError(ctx)),
    queueRetry: act<Ev<'retry'>>(queueRetry),
    requestClose: act(() => ({ ctx: { closeRequested: true } })),
    cancelClose: act(() => ({ ctx: { closeRequested: false } })),
    announceClosed: act(() => ({ emit: [{ type: 'thread.closed' }] })),
    acknowledge: base.enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'persist.ack' || event.seq <= context.durableSeq) return;
      enqueue.assign({ durableSeq: event.seq });
      enqueue.emit({ type: '@colloquy.durable', seq: event.seq });
    }),
  },
}).createMachine({
  id: 'conversation',
  context: ({ input }) => {
    const r = input.restore;
    const meta = input.create?.meta ?? null;
    // The boot plan is not kept here: the `boot` entry action reads it from the input.
    const seq = r ? r.nextSeq : (input.create?.seq ?? 0);
    return {
      log: { id: input.id, persistence: input.persistence },
      seq,
      durableSeq: seq - 1,
      config: r ? r.config : (meta?.config ?? { model: 'local', cwd: '.', approvalPolicy: 'on-request' }),
      name: r ? r.name : (meta?.name ?? null),
      turns: r?.turns ?? 0,
      historyTurns: r?.historyTurns ?? 0,
      turn: null,
      queue: r?.queue ?? [],
      usage: r?.usage ?? ZERO_USAGE,
      sessionApprovals: r?.sessionApprovals ?? [],
      ending: null,
      endSeq: -1,
      error: null,
      closeRequested: false,
      outbox: [],
      compactNext: false,
    };
  },
  initial: 'booting',
  on: {
    'persist.ack': { actions: 'acknowledge' },
  },
  states: {
    /** Transient: record `session_meta` (new) or bring back an open turn (resumed). */
    booting: {
      entry: 'boot',
      always: [{ guard: 'hasOpenTurn', target: 'processing.deciding' }, { target: 'settling' }],
    },
    idle: {
      on: {
        user_input: [
          // The context is full: the input waits while a compaction runs first.
          { guard: and(['notReject', 'compactNext']), target: 'active', actions: ['queueInput', 'startAutoCompact'] },
          { guard: 'notReject', target: 'active', actions: 'startInput' },
        ],
        compact: { target: 'active', actions: 'startCompact' },
        rollback: { guard: 'canRollback', actions: 'rollback' },
        override_turn_context: { actions: 'overrideContext' },
        set_name: { actions: 'setName' },
        shutdown: { target: 'closing', actions: 'requestClose' },
        'persist.failed': { target: 'error', actions: 'storeFailed' },
      },
    },
    /** A turn was admitted; its agent has produced nothing yet. */
    active: {
      on: {
        'turn.item': { target: 'processing.streaming', actions: 'turnItem' },
        'turn.approval': { target: 'processing.awaitingApproval', actions: 'approvalRequested' },
        'turn.compacted': { target: 'processing.streaming', actions: 'compacted' },
        'turn.notice': { actions: 'notice' },
        user_input: { guard: 'notReject', actions: 'busyInput' },
        interrupt: { actions: 'interruptTurn' },
        override_turn_context: { actions: 'overrideContext' },
        set_name: { actions: 'setName' },
        shutdown: { actions: ['requestClose', 'shutdownTurn'] },
        'xstate.done.actor.turn': { target: 'processing.committing', actions: 'turnEnded' },
        'xstate.error.actor.turn': { target: 'processing.committing', actions: 'turnCrashed' },
        'persist.failed': { target: 'error', actions: 'storeFailed' },
      },
    },
    /** Model or tool output is flowing, or the turn waits for an approval, or its end is being committed. */
    processing: {
      initial: 'streaming',
      on: {
        'turn.item': { actions: 'turnItem' },
        'turn.notice': { actions: 'notice' },
        'turn.compacted': { actions: 'compacted' },
        override_turn_context: { actions: 'overrideContext' },
        set_name: { actions: 'setName' },
        'persist.failed': { target: 'error', actions: 'storeFailed' },
      },
      states: {
        streaming: {
          on: {
            'turn.approval': { target: 'awaitingApproval', actions: 'approvalRequested' },
            user_input: { guard: 'notReject', actions: 'busyInput' },
            interrupt: { actions: 'interruptTurn' },
            shutdown: { actions: ['requestClose', 'shutdownTurn'] },
            'xstate.done.actor.turn': { target: 'committing', actions: 'turnEnded' },
            'xstate.error.actor.turn': { target: 'committing', actions: 'turnCrashed' },
          },
        },
        awaitingApproval: {
          on: {
            'turn.approval': { actions: 'approvalRequested' },
            approval: { guard: 'isPendingCall', target: 'deciding', actions: 'approvalDecided' },
            user_input: { guard: 'notReject', actions: 'busyInput' },
            interrupt: { actions: 'interruptTurn' },
            shutdown: { actions: ['requestClose', 'shutdownTurn'] },
            'xstate.done.actor.turn': { target: 'committing', actions: 'turnEnded' },
            'xstate.error.actor.turn': { target: 'committing', actions: 'turnCrashed' },
          },
        },
        /** Transient: more approvals pending, or back to streaming. */
        deciding: {
          always: [{ guard: 'hasPending', target: 'awaitingApproval' }, { target: 'streaming' }],
        },
        /** The turn ended; its end is announced once its records are durable. */
        committing: {
          always: { guard: 'endDurable', target: '#conversation.settling', actions: 'announceEnd' },
          on: {
            user_input: { guard: 'notReject', actions: 'queueInput' },
            interrupt: { actions: 'acceptOnly' },
            shutdown: { actions: 'requestClose' },
          },
        },
      },
    },
    /** Transient: where to go when no turn runs. */
    settling: {
      always: [
        { guard: 'closeRequested', target: 'closing' },
        { guard: 'hasError', target: 'error' },
        { guard: and(['hasQueue', 'compactNext']), target: 'active', actions: 'startAutoCompact' },
        { guard: 'hasQueue', target: 'active', actions: 'startQueued' },
        { target: 'idle' },
      ],
    },
    /** A turn or a store write failed. Never a dead end: retry, reset, new input or close. */
    error: {
      on: {
        // A turn whose end could not be written: leaving `error` writes it, then announces it.
        // A turn interrupted by a store failure that is still ending: nothing new may start.
        retry: [
          { guard: 'hasEnding', target: '#conversation.processing.committing', actions: 'reset' },
          // The context was full: compact, then run the failed input again.
          { guard: and(['noOpenTurn', 'compactNext', 'retriesRegular']), target: 'active', actions: ['queueRetry', 'reset', 'startAutoCompact'] },
          { guard: 'noOpenTurn', target: 'retrying', actions: 'retry' },
        ],
        reset: [
          { guard: 'hasEnding', target: '#conversation.processing.committing', actions: 'reset' },
          { guard: 'noOpenTurn', target: 'settling', actions: 'reset' },
        ],
        user_input: [
          { guard: and(['hasEnding', 'notReject']), target: '#conversation.processing.committing', actions: ['reset', 'queueInput'] },
          { guard: and(['hasOpenTurn', 'notReject']), actions: 'queueInput' },
          { guard: and(['notReject', 'compactNext']), target: 'active', actions: ['reset', 'queueInput', 'startAutoCompact'] },
          { guard: 'notReject', target: 'active', actions: ['reset', 'startInput'] },
        ],
        compact: { guard: 'noOpenTurn', target: 'active', actions: ['reset', 'startCompact'] },
        override_turn_context: { actions: 'overrideContext' },
        set_name: { actions: 'setName' },
        shutdown: [
          { guard: 'hasEnding', target: '#conversation.processing.committing', actions: ['reset', 'requestClose'] },
          { guard: 'noOpenTurn', target: 'closing', actions: ['reset', 'requestClose'] },
        ],
        // A turn interrupted by a store failure ends here; its end record waits with the rest.
        'xstate.done.actor.turn': { actions: 'turnEndedInError' },
        'xstate.error.actor.turn': { actions: 'turnEndedInError' },
        'persist.failed': { actions: 'storeFailedAgain' },
      },
    },
    /** Transient: after `retry`, the failed turn runs again, or (nothing to re-run) settle. */
    retrying: {
      always: [{ guard: 'hasOpenTurn', target: 'active' }, { target: 'settling' }],
    },
    /** Closing: wait until every record is durable. */
    closing: {
      always: { guard: 'allDurable', target: 'closed', actions: 'announceClosed' },
      on: {
        'persist.failed': { target: 'error', actions: ['storeFailed', 'cancelClose'] },
      },
    },
    closed: { type: 'final' },
  },
});

/** A running conversation actor. */
export type ConversationActorRef = ActorRefFrom<typeof conversationMachine>;

/** The public status of a conversation snapshot's state value. */
export function statusOf(value: unknown): ConversationStatus {
  const top = typeof value === 'string' ? value : Object.keys(value as object)[0];
  switch (top) {
    case 'active':
      return 'active';
    case 'processing':
    case 'closing':
      return 'processing';
    case 'error':
      return 'error';
    case 'closed':
      return 'closed';
    default:
      return 'idle';
  }
}
