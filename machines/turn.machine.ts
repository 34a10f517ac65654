/**
 * The turn actor: a child of a conversation for the life of one turn.
 *
 * It holds the turn's pending approvals (call id → request), the steered input not yet
 * taken by the agent, the turn kind and the AbortController that cancels it. The agent
 * itself runs in the invoked `agentRunner` actor, which the runtime provides; this machine
 * only routes: runner output goes to the parent conversation, decisions and steered input
 * go to the runner. It ends `completed`, `aborted` or `failed`, with a `TurnOutcome` output.
 *
 * Pure: no I/O. As Codex's `ActiveTurn`/`TurnState` (pending approvals as oneshots, pending
 * input drained between model calls), made an explicit statechart.
 */
import { and, assign, sendParent, sendTo, setup, type ActorRefFrom, type CallbackActorLogic, type ErrorActorEvent } from 'xstate';
import type { AbortReason, RateLimitSnapshot, TurnError, TurnKind } from '../src/protocol/events.js';
import type { ThreadItem, Usage, UserInputItem } from '../src/protocol/items.js';
import type { ApprovalDecision, ApprovalPolicy } from '../src/protocol/ops.js';
import { addUsage, ZERO_USAGE } from '../src/protocol/items.js';

import type { PendingApproval } from '../src/log/restored.js';

export type { PendingApproval } from '../src/log/restored.js';

/** Input steered into the running turn, not yet taken by the agent. */
export interface SteeredInput {
  readonly submissionId: string;
  readonly items: readonly UserInputItem[];
  /** Id for the `user_message` item recorded when the agent takes it. */
  readonly itemId: string;
}

/** What the conversation gives a new turn. */
export interface TurnInput {
  readonly conversationId: string;
  readonly turnId: string;
  /** 1-based number of the turn in its conversation. */
  readonly number: number;
  readonly kind: TurnKind;
  readonly input: readonly UserInputItem[];
  readonly approvalPolicy: ApprovalPolicy;
  /** Approval keys granted `approved_for_session` earlier in the conversation. */
  readonly sessionApprovals: readonly string[];
  /** Approvals restored from the log (a turn resumed after a restart). */
  readonly pendingApprovals?: readonly PendingApproval[];
  /** Items this turn already recorded before a restart. */
  readonly resumedItems?: readonly ThreadItem[];
}

/** How a turn ended. `steered` is input it never took; the conversation runs it next. */
export type TurnOutcome = (
  | { readonly status: 'completed'; readonly usage: Usage; readonly steered: readonly SteeredInput[] }
  | { readonly status: 'aborted'; readonly reason: AbortReason; readonly usage: Usage; readonly steered: readonly SteeredInput[] }
  | { readonly status: 'failed'; readonly error: TurnError; readonly usage: Usage; readonly steered: readonly SteeredInput[] }
) & {
  /** The context is (nearly) full: compact before the next turn. */
  readonly compactNext?: boolean;
};

/** What the runner actor receives (sent by the turn). */
export type RunnerCommand =
  | { type: 'runner.decision'; callId: string; decision: ApprovalDecision }
  | { type: 'runner.steer'; input: SteeredInput };

/** Input of the runner actor. */
export interface RunnerInput extends TurnInput {
  readonly signal: AbortSignal;
}

/** Progress of the agent, as sent by the runner to the turn (and forwarded to the conversation). */
export type RunnerEvent =
  | { type: 'runner.item'; phase: 'started' | 'updated' | 'completed'; item: ThreadItem }
  | { type: 'runner.usage'; usage: Usage }
  | { type: 'runner.approval'; callId: string; item: ThreadItem }
  | { type: 'runner.steer.taken'; submissionIds: readonly string[] }
  | { type: 'runner.notice'; notice: TurnNotice }
  | { type: 'runner.compacted'; summary: string; keptFromSeq: number; keptTurns: number; nextItem: number }
  | { type: 'runner.done'; usage?: Usage; compactNext?: boolean }
  | { type: 'runner.failed'; error: TurnError; compactNext?: boolean };

/** Something to show about a running turn that is not recorded (rate limits, retries). */
export type TurnNotice =
  | { readonly type: 'rate_limits'; readonly snapshot: RateLimitSnapshot }
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly message: string };

/** Events the conversation sends to its turn. */
export type TurnCommand =
  | { type: 'approval.decide'; callId: string; decision: ApprovalDecision }
  | { type: 'steer'; input: SteeredInput }
  | { type: 'interrupt'; reason: AbortReason };

/** Events the turn sends to its parent conversation. */
export type TurnReport =
  | { type: 'turn.item'; phase: 'started' | 'updated' | 'completed'; item: ThreadItem }
  | { type: 'turn.approval'; callId: string; item: ThreadItem }
  | { type: 'turn.compacted'; summary: string; keptFromSeq: number; keptTurns: number; nextItem: number }
  | { type: 'turn.notice'; notice: TurnNotice };

export type TurnEvent = TurnCommand | RunnerEvent | ErrorActorEvent<unknown, 'runner'>;

/** Where a turn is: running, or which way it ended. */
export type TurnStatus = 'running' | 'completed' | 'aborted' | 'failed';

export interface TurnContext {
  readonly input: TurnInput;
  readonly status: TurnStatus;
  readonly pendingApprovals: Readonly<Record<string, PendingApproval>>;
  readonly steered: readonly SteeredInput[];
  readonly controller: AbortController;
  readonly usage: Usage;
  readonly reason: AbortReason | null;
  readonly error: TurnError | null;
  readonly compactNext: boolean;
}

function toRecord(list: readonly PendingApproval[] | undefined): Record<string, PendingApproval> {
  const out: Record<string, PendingApproval> = {};
  for (const p of list ?? []) out[p.callId] = p;
  return out;
}

function withoutKey<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k in record) if (k !== key) out[k] = record[k] as T;
  return out;
}

/**
 * The turn statechart. Provide `agentRunner` (a callback actor taking `RunnerInput`,
 * receiving `RunnerCommand`s and sending `RunnerEvent`s back) with `turnMachine.provide`.
 */
export const turnMachine = setup({
  types: {
    context: {} as TurnContext,
    events: {} as TurnEvent,
    input: {} as TurnInput,
    output: {} as TurnOutcome,
  },
  actors: {
    // Replaced by the runtime; the default never produces anything.
    agentRunner: {} as CallbackActorLogic<RunnerCommand, RunnerInput>,
  },
  guards: {
    isPending: ({ context, event }) =>
      (event.type === 'approval.decide' || event.type === 'runner.approval') && event.callId in context.pendingApprovals,
    isAbortDecision: ({ event }) => event.type === 'approval.decide' && event.decision === 'abort',
    hasPending: ({ context }) => Object.keys(context.pendingApprovals).length > 0,
  },
  actions: {
    recordApproval: assign({
      pendingApprovals: ({ context, event }) =>
        event.type === 'runner.approval'
          ? { ...context.pendingApprovals, [event.callId]: { callId: event.callId, item: event.item } }
          : context.pendingApprovals,
    }),
    reportApproval: sendParent(({ event }): TurnReport => {
      const { callId, item } = event as Extract<TurnEvent, { type: 'runner.approval' }>;
      return { type: 'turn.approval', callId, item };
    }),
    reportItem: sendParent(({ event }): TurnReport => {
      const { phase, item } = event as Extract<TurnEvent, { type: 'runner.item' }>;
      return { type: 'turn.item', phase, item };
    }),
    reportNotice: sendParent(({ event }): TurnReport => ({
      type: 'turn.notice',
      notice: (event as Extract<TurnEvent, { type: 'runner.notice' }>).notice,
    })),
    reportCompaction: sendParent(({ event }): TurnReport => {
      const { summary, keptFromSeq, keptTurns, nextItem } = event as Extract<TurnEvent, { type: 'runner.compacted' }>;
      return { type: 'turn.compacted', summary, keptFromSeq, keptTurns, nextItem };
    }),
    abortSignal: ({ context }) => {
      if (!context.controller.signal.aborted) context.controller.abort(context.reason ?? 'interrupted');
    },
  },
}).createMachine({
  id: 'turn',
  context: ({ input }) => ({
    input,
    status: 'running',
    pendingApprovals: toRecord(input.pendingApprovals),
    steered: [],
    controller: new AbortController(),
    usage: ZERO_USAGE,
    reason: null,
    error: null,
    compactNext: false,
  }),
  initial: 'running',
  states: {
    running: {
      invoke: {
        id: 'runner',
        src: 'agentRunner',
        input: ({ context }): RunnerInput => ({ ...context.input, signal: context.controller.signal }),
      },
      initial: 'deciding',
      states: {
        deciding: {
          always: [{ guard: 'hasPending', target: 'awaitingApproval' }, { target: 'working' }],
        },
        working: {
          on: {
            'runner.approval': {
              target: 'awaitingApproval',
              actions: ['recordApproval', 'reportApproval'],
            },
          },
        },
        awaitingApproval: {
          on: {
            'runner.approval': [
              // A resumed agent asking again for an approval restored from the log.
              { guard: 'isPending' },
              { actions: ['recordApproval', 'reportApproval'] },
            ],
            'approval.decide': [
              {
                guard: and(['isPending', 'isAbortDecision']),
                target: '#turn.aborted',
                actions: assign({
                  pendingApprovals: ({ context, event }) => withoutKey(context.pendingApprovals, event.callId),
                  reason: 'interrupted',
                  status: 'aborted',
                }),
              },
              {
                guard: 'isPending',
                target: 'deciding',
                actions: [
                  assign({
                    pendingApprovals: ({ context, event }) => withoutKey(context.pendingApprovals, event.callId),
                  }),
                  sendTo('runner', ({ event }): RunnerCommand => ({
                    type: 'runner.decision',
                    callId: event.callId,
                    decision: event.decision,
                  })),
                ],
              },
            ],
          },
        },
      },
      on: {
        'runner.item': {
          actions: 'reportItem',
        },
        'runner.usage': {
          actions: assign({ usage: ({ context, event }) => addUsage(context.usage, event.usage) }),
        },
        'runner.compacted': { actions: 'reportCompaction' },
        'runner.notice': { actions: 'reportNotice' },
        steer: {
          actions: [
            assign({ steered: ({ context, event }) => [...context.steered, event.input] }),
            sendTo('runner', ({ event }): RunnerCommand => ({ type: 'runner.steer', input: event.input })),
          ],
        },
        'runner.steer.taken': {
          actions: [
            assign({
              steered: ({ context, event }) => context.steered.filter((s) => !event.submissionIds.includes(s.submissionId)),
            }),
          ],
        },
        interrupt: {
          target: 'aborted',
          actions: assign({ reason: ({ event }) => event.reason, status: 'aborted' }),
        },
        'runner.done': {
          target: 'completed',
          actions: assign({
            status: 'completed',
            usage: ({ context, event }) => (event.usage ? addUsage(context.usage, event.usage) : context.usage),
            compactNext: ({ event }) => event.compactNext === true,
          }),
        },
        'runner.failed': {
          target: 'failed',
          actions: assign({ error: ({ event }) => event.error, status: 'failed', compactNext: ({ event }) => event.compactNext === true }),
        },
        // The runner itself crashed (a bug in it, not in the agent): the turn fails.
        'xstate.error.actor.runner': {
          target: 'failed',
          actions: assign({
            error: ({ event }) => ({
              message: `agent runner crashed: ${event.error instanceof Error ? event.error.message : String(event.error)}`,
              code: 'runner_crashed',
            }),
            status: 'failed',
          }),
        },
      },
    },
    completed: { type: 'final' },
    aborted: { type: 'final', entry: 'abortSignal' },
    failed: { type: 'final', entry: 'abortSignal' },
  },
  output: ({ context }): TurnOutcome => {
    const extra = context.compactNext ? { compactNext: true } : {};
    if (context.status === 'completed') return { status: 'completed', usage: context.usage, steered: context.steered, ...extra };
    if (context.status === 'failed') {
      return { status: 'failed', error: context.error ?? { message: 'turn failed' }, usage: context.usage, steered: context.steered, ...extra };
    }
    return { status: 'aborted', reason: context.reason ?? 'interrupted', usage: context.usage, steered: context.steered };
  },
});

/** A running turn actor. */
export type TurnActorRef = ActorRefFrom<typeof turnMachine>;

