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
 * to the persistence actor: it is the only place that numbers a log. A turn's end
 * (`turn.completed`, `turn.aborted`, `turn.failed`) is announced only once its records are
 * acknowledged (durability `sync`: fsynced).
 *
 * When it is quiescent (`isQuiescent`: idle, waiting for approvals with nothing running, or in
 * `error` after a turn failed, with everything durable), its log holds everything it needs to
 * come back, and the supervisor may passivate it (as Akka Cluster Sharding's idle passivation).
 *
 * Pure: the transitions are reducers (`conversation.steps.ts`) over the context; the only
 * effects are messages to the persistence actor, the turn child and the parent, and emitted
 * events. Time comes from the actor system's clock (XState's `clock` option, see `clock.ts`).
 */
import { and, setup, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { ZERO_USAGE } from '../src/protocol/items.js';
import type { LogRecord } from '../src/protocol/records.js';
import { isoTime } from './clock.js';
import type { PersistenceEvent } from './persistence.machine.js';
import { turnMachine, type TurnInput, type TurnOutcome } from './turn.machine.js';
import {
  appended,
  approvalDecided,
  approvalRequested,
  boot,
  bootPlan,
  busyInput,
  compacted,
  contextOverridden,
  leaveError,
  nameSet,
  noticed,
  queueRetry,
  retryTurn,
  rolledBack,
  startQueued,
  startTurn,
  storeFailed,
  turnEnded,
  turnItem,
} from './conversation.steps.js';
import type {
  ConversationContext,
  ConversationEmitted,
  ConversationEvent,
  ConversationInput,
  ConversationStatus,
  OpEvent,
  Reducer,
  Step,
} from './conversation.types.js';

export type * from './conversation.types.js';
export { abortMarkerText, threadStarted } from './conversation.steps.js';

// ——— the machine ———

/** The subset of XState's `enqueue` the executor uses. */
interface Enqueue {
  assign(patch: Partial<ConversationContext>): void;
  sendTo(to: AnyActorRef | string, event: unknown): void;
  emit(event: ConversationEmitted): void;
  spawnChild(src: 'turn', options: { id: string; systemId: string; input: TurnInput }): void;
  stopChild(id: string): void;
}

/** The texts of the user messages among `records`, for the global message history. */
function messagesOf(records: readonly LogRecord[]): string[] | null {
  let out: string[] | null = null;
  for (const r of records) {
    if (r.type === 'item' && r.payload.item.type === 'user_message' && r.payload.item.text !== '') (out ??= []).push(r.payload.item.text);
  }
  return out;
}

/** Deferred records are sent anyway once this many are held. */
const OUTBOX_MAX = 64;

/** Carry out a `Step`: stop/spawn the turn, assign, number and send records, emit, acknowledge the op. */
function execute(ctx: ConversationContext, event: ConversationEvent, enqueue: Enqueue, self: AnyActorRef, step: Step): void {
  if (step.stopTurn) enqueue.stopChild('turn');
  let seq = ctx.seq;
  let records: LogRecord[] | null = null;
  if (step.records && step.records.length > 0) {
    const ts = isoTime(self);
    records = step.records.map((d) => ({ ts: d.ts ?? ts, seq: seq++, type: d.type, payload: d.payload }) as LogRecord);
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
    // The user messages go to the global history in the same commit as the records they are in.
    const messages = step.forget ? null : messagesOf(send);
    const request = {
      conversationId: ctx.log.id,
      records: send,
      replyTo: self,
      ...(step.noAck ? { ack: false } : {}),
      ...(messages ? { messages } : {}),
    };
    enqueue.sendTo(ctx.log.persistence, { type: 'append', request } satisfies PersistenceEvent);
  }
  if (records) enqueue.emit({ type: '@colloquy.recorded', records });
  if (step.emit) for (const e of step.emit) enqueue.emit(e);
  if (step.toTurn) for (const c of step.toTurn) enqueue.sendTo('turn', c);
  if (step.spawn) enqueue.spawnChild('turn', { id: 'turn', systemId: `turn:${ctx.log.id}`, input: step.spawn });
  if (isOp(event)) enqueue.emit({ type: '@colloquy.accepted', submissionId: event.submissionId, seq: seq - 1 });
}

const isOp = (e: ConversationEvent): e is OpEvent | Extract<ConversationEvent, { type: 'records.append' }> => 'submissionId' in e;

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
    canAppend: ({ context, event }) => event.type === 'records.append' && (event.expectedSeq === undefined || event.expectedSeq === context.seq),
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
    appendRecords: act<Ev<'records.append'>>(appended),
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
        'records.append': { guard: 'canAppend', actions: 'appendRecords' },
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

/** Nothing is working and everything is durable (its context): the log alone brings it back as it is. */
function quiescentContext(context: ConversationContext): boolean {
  if (context.durableSeq < context.seq - 1 || context.outbox.length > 0 || context.ending !== null || context.closeRequested) return false;
  if (context.error?.kind === 'store') return false;
  const turn = context.turn;
  if (!turn) return true;
  // Waiting for approvals, with nothing else started: every open item is one waiting to be approved.
  const waiting = new Set<string>();
  for (const callId in turn.pending) waiting.add(callId).add((turn.pending[callId] as { id: string }).id);
  if (waiting.size === 0) return false;
  for (const id in turn.open) if (!waiting.has(id)) return false;
  return true;
}

/**
 * Whether a conversation in this state may be passivated: idle, in `error` after a turn failed,
 * or waiting for approvals with nothing else running — and everything it wrote durable. Its log
 * then holds everything it needs to come back as it is (pending approvals and queued input).
 */
export function isQuiescent(snapshot: { readonly value: unknown; readonly context: ConversationContext }): boolean {
  const value = snapshot.value;
  const at =
    typeof value === 'string'
      ? value
      : value !== null && typeof value === 'object' && 'processing' in value
        ? `processing.${String((value as { processing: unknown }).processing)}`
        : '';
  if (at !== 'idle' && at !== 'error' && at !== 'processing.awaitingApproval') return false;
  return quiescentContext(snapshot.context);
}
