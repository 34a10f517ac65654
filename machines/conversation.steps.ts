/**
 * The conversation actor's reducers: for each transition, the `Step` it takes, computed
 * purely from the context and the event (records to write, events to emit, commands for the
 * turn). `conversation.machine.ts` carries the steps out. No I/O, no clock: records get their
 * `seq` and `ts` when the machine executes a step.
 */
import { approvalKey } from '../src/protocol/approvals.js';
import { draft, type RecordDraft } from '../src/log/draft.js';
import { eventsOfRecord } from '../src/log/events.js';
import type { AbortReason, ThreadEvent } from '../src/protocol/events.js';
import { addUsage, inputImages, inputText, type ThreadItem, type UserInputItem } from '../src/protocol/items.js';
import type { BusyMode, OpOf } from '../src/protocol/ops.js';
import type { ConversationConfig, LogRecord, RecordedEvent, SessionMetaPayload } from '../src/protocol/records.js';
import type { TurnKind } from '../src/protocol/events.js';
import type { PersistFailure } from '../src/log/types.js';
import type { PersistReply } from './persistence.machine.js';
import type { SteeredInput, TurnOutcome, TurnReport } from './turn.machine.js';
import type { AppendEvent, BootPlan, ConversationContext, ConversationError, ConversationInput, OpEvent, QueuedInput, Step } from './conversation.types.js';

type Draft = RecordDraft;
type WithSubmission<T> = T & { readonly submissionId: string };


export function userMessage(itemId: string, items: readonly UserInputItem[], submissionId: string | null): ThreadItem {
  const images = inputImages(items);
  return {
    id: itemId,
    type: 'user_message',
    text: inputText(items),
    ...(images.length > 0 ? { images } : {}),
    ...(submissionId ? { submission_id: submissionId } : {}),
  };
}

export interface TurnStart {
  id: string;
  kind: TurnKind;
  input: readonly UserInputItem[];
  itemId: string | null;
  submissionId: string | null;
  retryOf?: string;
}

/** Admit a turn: record its context, start and input; spawn the turn actor. */
export function startTurn(ctx: ConversationContext, start: TurnStart, base: Step = {}): Step {
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

export function startQueued(ctx: ConversationContext, base: Step = {}): Step {
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
export function busyInput(ctx: ConversationContext, e: OpEvent & { type: 'user_input' }, turnOpen: boolean): Step {
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

export function turnItem(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.item' }>): Step {
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
export function abortedItem(item: ThreadItem): ThreadItem {
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

export function noticed(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.notice' }>): Step {
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

export function approvalRequested(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.approval' }>): Step {
  const turn = ctx.turn;
  if (!turn) return {};
  return {
    ctx: { turn: { ...turn, pending: { ...turn.pending, [e.callId]: e.item } } },
    records: [draft('approval_requested', { turn_id: turn.id, call_id: e.callId, item: e.item })],
    emit: [{ type: 'approval.requested', turn_id: turn.id, callId: e.callId, item: e.item }],
  };
}

export function approvalDecided(ctx: ConversationContext, e: OpEvent & { type: 'approval' }): Step {
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

export function compacted(ctx: ConversationContext, e: Extract<TurnReport, { type: 'turn.compacted' }>): Step {
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
export function turnEnded(ctx: ConversationContext, outcome: TurnOutcome): Step {
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

export function storeFailed(ctx: ConversationContext, e: Extract<PersistReply, { type: 'persist.failed' }>): Step {
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
    emit: [{ type: 'error', message: `could not write the conversation log: ${failure.message}`, code: failure.code }],
    toTurn: live ? [{ type: 'interrupt', reason: 'store_failure' }] : [],
  };
}

export function nameSet(e: OpEvent & { type: 'set_name' }): Step {
  return {
    ctx: { name: e.name },
    records: [draft('event', { type: 'thread.name_updated', name: e.name })],
    emit: [{ type: 'thread.name_updated', name: e.name }],
  };
}

export function contextOverridden(ctx: ConversationContext, e: OpEvent & { type: 'override_turn_context' }): Step {
  const config: ConversationConfig = { ...ctx.config };
  if (e.model !== undefined) config.model = e.model;
  if (e.instructions !== undefined) config.instructions = e.instructions;
  if (e.cwd !== undefined) config.cwd = e.cwd;
  if (e.approvalPolicy !== undefined) config.approvalPolicy = e.approvalPolicy;
  if (e.sandbox !== undefined) config.sandbox = e.sandbox;
  if (e.networkAccess !== undefined) config.networkAccess = e.networkAccess;
  if (e.writableRoots !== undefined) config.writableRoots = e.writableRoots;
  if (e.outputSchema === null) delete config.outputSchema;
  else if (e.outputSchema !== undefined) config.outputSchema = e.outputSchema;
  return { ctx: { config }, records: [draft('turn_context', { turn_id: null, config })] };
}

export function rolledBack(ctx: ConversationContext, e: OpEvent & { type: 'rollback' }): Step {
  return {
    ctx: { historyTurns: ctx.historyTurns - e.turns },
    records: [draft('rolled_back', { turns: e.turns })],
    emit: [{ type: 'thread.rolled_back', turns: e.turns }],
  };
}

export function retryTurn(ctx: ConversationContext, e: OpEvent & { type: 'retry' }): Step {
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
export function queueRetry(ctx: ConversationContext, e: OpEvent & { type: 'retry' }): Step {
  const retry = ctx.error?.retry;
  if (!retry) return {};
  const again = { type: 'user_input', items: retry.input, mode: 'queue', submissionId: e.submissionId, itemId: e.itemId } as OpEvent & {
    type: 'user_input';
  };
  return busyInput(ctx, again, false);
}

export function leaveError(ctx: ConversationContext): Step {
  return { unpark: ctx.error?.kind === 'store', ctx: { error: null } };
}


/** The boot plan of an actor's input (carried by its initial event). */
export function bootPlan(input: ConversationInput | undefined): BootPlan {
  const r = input?.restore;
  return { meta: input?.create?.meta ?? null, openTurn: r?.openTurn ?? null, failed: r?.failed ?? null };
}

export function boot(ctx: ConversationContext, plan: BootPlan): Step {
  const emit: ThreadEvent[] = [threadStarted(ctx.log.id, ctx)];
  const step: Step = { emit };
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
    // Whoever followed the turn (on this node, when it took the conversation over) learns how it ended.
    for (const r of records) if (r.type !== 'session_meta') emit.push(...eventsOfRecord(r));
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


/** What `thread.started` says of a conversation: its id and the settings its turns run with (as Codex's `SessionConfigured`). */
export function threadStarted(
  id: string,
  state: { readonly config: ConversationConfig; readonly name: string | null; readonly turns: number; readonly historyTurns: number },
): ThreadEvent {
  const { config } = state;
  return {
    type: 'thread.started',
    thread_id: id,
    model: config.model,
    cwd: config.cwd,
    approval_policy: config.approvalPolicy,
    ...(config.sandbox !== undefined ? { sandbox: config.sandbox } : {}),
    ...(state.name !== null ? { name: state.name } : {}),
    turns: state.turns,
    history_turns: state.historyTurns,
  };
}

/**
 * Records a client of the runtime wrote (see `AppendEvent`): recorded in order, told to
 * subscribers as the events they stand for, and folded into the context (turn count, history,
 * usage, settings, name), as the actor's own records of the same kinds would be.
 */
export function appended(ctx: ConversationContext, e: AppendEvent): Step {
  let { turns, historyTurns, usage, config, name, sessionApprovals } = ctx;
  let open: { readonly id: string; readonly kind: TurnKind } | null = null;
  const emit: ThreadEvent[] = [];
  const ended = (): void => {
    if (open?.kind === 'regular') historyTurns++;
    open = null;
  };
  for (const d of e.drafts) {
    emit.push(...eventsOfRecord(d));
    switch (d.type) {
      case 'event': {
        const p = d.payload;
        switch (p.type) {
          case 'turn.started':
            turns++;
            open = { id: p.turn_id, kind: p.kind };
            break;
          case 'turn.completed':
            ended();
            usage = p.usage;
            break;
          case 'turn.aborted':
            ended();
            if (p.usage) usage = p.usage;
            break;
          case 'turn.failed':
            ended();
            if (p.usage) usage = p.usage;
            break;
          case 'thread.name_updated':
            name = p.name;
            break;
        }
        break;
      }
      case 'turn_context':
        config = d.payload.config;
        break;
      case 'rolled_back':
        historyTurns = Math.max(0, historyTurns - d.payload.turns);
        break;
      case 'compacted': {
        const p = d.payload;
        historyTurns = p.kept_turns;
        turns = Math.max(turns, p.turns);
        usage = p.usage;
        config = p.config;
        if (p.name !== undefined) name = p.name;
        sessionApprovals = [...p.session_approvals];
        break;
      }
      default:
        break;
    }
  }
  return {
    records: [...e.drafts],
    emit,
    ...(e.remember ? {} : { forget: true }),
    ctx: { turns, historyTurns, usage, config, name, sessionApprovals },
  };
}

/** A new log's first record: its `session_meta` at `seq` (0, or a fork's first own `seq`), written at `ts`. */
export function headerRecord(meta: SessionMetaPayload, seq: number, ts: string): LogRecord {
  return { ts, seq, type: 'session_meta', payload: meta };
}
