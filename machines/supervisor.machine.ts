/**
 * The supervisor actor: starts, resumes, forks and terminates conversations, observes
 * their failures and restarts them from their logs under a bounded restart budget with
 * exponential backoff (XState has no supervision of its own).
 *
 * Conversations are not XState children of the supervisor: a parent copies its children
 * map on every spawn, so spawning into one parent costs O(n) (SPEC §2: 10k children take
 * 21 s). Each conversation is instead a root actor in a registry the supervisor owns
 * through its provided actions (`spawnConversation`, `stopConversation`,
 * `releaseConversation`, `restartConversation`, `giveUp`), so a start costs the same with
 * 10 or 100,000 conversations resident.
 *
 * Pure: the registry and the actors live behind the provided actions.
 */
import { assign, raise, setup, type PromiseActorLogic } from 'xstate';
import type { ConversationInput } from './conversation.machine.js';

/** How a conversation came to be spawned. */
export type SpawnOrigin = 'start' | 'resume' | 'fork' | 'restart';

/** Restart budget: at most `maxRestarts` within `windowMs`, waiting `backoffMs × 2^n` (capped) before each. */
export interface RestartPolicy {
  readonly maxRestarts: number;
  /** ms */
  readonly windowMs: number;
  /** ms */
  readonly backoffMs: number;
  /** ms */
  readonly maxBackoffMs: number;
}

/** The default restart policy: 3 restarts a minute, 100 ms, 200 ms, 400 ms apart. */
export const DEFAULT_RESTART_POLICY: RestartPolicy = { maxRestarts: 3, windowMs: 60_000, backoffMs: 100, maxBackoffMs: 5_000 };

export type SupervisorEvent =
  | { type: 'conversation.spawn'; id: string; origin: SpawnOrigin; input: ConversationInput }
  /**
   * A dormant conversation (started, its `session_meta` durable, no actor yet) got its actor on
   * first use: counted as spawned and resident from now on, like a `conversation.spawn`.
   */
  | { type: 'conversation.activated'; id: string }
  | { type: 'conversation.terminate'; id: string }
  | { type: 'conversation.exited'; id: string }
  | { type: 'conversation.failed'; id: string; error: unknown; at: number }
  | { type: 'conversation.restart'; id: string }
  | { type: 'shutdown' };

interface RestartRecord {
  readonly count: number;
  readonly since: number;
}

export interface SupervisorContext {
  readonly policy: RestartPolicy;
  /** Conversations resident now. */
  readonly resident: number;
  /** Conversations spawned so far. */
  readonly spawned: number;
  /** Restart counts of conversations that failed, by id. */
  readonly restarts: Readonly<Record<string, RestartRecord>>;
  /** Conversations given up on (budget exhausted). */
  readonly givenUp: number;
}

export interface SupervisorInput {
  readonly policy?: RestartPolicy;
}

function budget(ctx: SupervisorContext, id: string, at: number): RestartRecord {
  const prev = ctx.restarts[id];
  if (!prev || at - prev.since > ctx.policy.windowMs) return { count: 1, since: at };
  return { count: prev.count + 1, since: prev.since };
}

/**
 * The supervisor statechart. Provide the actions named above and `drain` (a promise actor
 * that closes every resident conversation and flushes the store).
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    drain: {} as PromiseActorLogic<void, void>,
  },
  actions: {
    // Provided by the runtime.
    spawnConversation: (_, _params: { id: string; origin: SpawnOrigin; input: ConversationInput }) => {},
    stopConversation: (_, _params: { id: string }) => {},
    releaseConversation: (_, _params: { id: string }) => {},
    restartConversation: (_, _params: { id: string }) => {},
    giveUp: (_, _params: { id: string; error: unknown }) => {},
  },
  guards: {
    withinBudget: ({ context, event }) =>
      event.type === 'conversation.failed' && budget(context, event.id, event.at).count <= context.policy.maxRestarts,
  },
  delays: {
    backoff: ({ context, event }) => {
      const id = event.type === 'conversation.failed' ? event.id : '';
      const n = context.restarts[id]?.count ?? 1;
      return Math.min(context.policy.backoffMs * 2 ** (n - 1), context.policy.maxBackoffMs);
    },
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({
    policy: input.policy ?? DEFAULT_RESTART_POLICY,
    resident: 0,
    spawned: 0,
    restarts: {},
    givenUp: 0,
  }),
  initial: 'running',
  on: {
    'conversation.exited': {
      actions: [
        { type: 'releaseConversation', params: ({ event }) => ({ id: event.id }) },
        assign({ resident: ({ context }) => Math.max(0, context.resident - 1) }),
      ],
    },
    'conversation.terminate': {
      actions: [
        { type: 'stopConversation', params: ({ event }) => ({ id: event.id }) },
        assign({ resident: ({ context }) => Math.max(0, context.resident - 1) }),
      ],
    },
  },
  states: {
    running: {
      on: {
        'conversation.spawn': {
          actions: [
            {
              type: 'spawnConversation',
              params: ({ event }) => ({ id: event.id, origin: event.origin, input: event.input }),
            },
            assign({
              resident: ({ context }) => context.resident + 1,
              spawned: ({ context }) => context.spawned + 1,
            }),
          ],
        },
        'conversation.failed': [
          {
            guard: 'withinBudget',
            actions: [
              assign({
                restarts: ({ context, event }) => ({ ...context.restarts, [event.id]: budget(context, event.id, event.at) }),
                resident: ({ context }) => Math.max(0, context.resident - 1),
              }),
              raise(({ event }) => ({ type: 'conversation.restart' as const, id: event.id }), { delay: 'backoff' }),
            ],
          },
          {
            actions: [
              { type: 'giveUp', params: ({ event }) => ({ id: event.id, error: event.error }) },
              assign({
                givenUp: ({ context }) => context.givenUp + 1,
                resident: ({ context }) => Math.max(0, context.resident - 1),
              }),
            ],
          },
        ],
        'conversation.activated': {
          actions: assign({
            resident: ({ context }) => context.resident + 1,
            spawned: ({ context }) => context.spawned + 1,
          }),
        },
        'conversation.restart': {
          actions: { type: 'restartConversation', params: ({ event }) => ({ id: event.id }) },
        },
        shutdown: { target: 'draining' },
      },
    },
    draining: {
      invoke: {
        src: 'drain',
        onDone: { target: 'stopped' },
        onError: { target: 'stopped' },
      },
      on: {
        // A failure while draining is final: the conversation is closed with everything else.
        'conversation.failed': {
          actions: [
            { type: 'giveUp', params: ({ event }) => ({ id: event.id, error: event.error }) },
            assign({ resident: ({ context }) => Math.max(0, context.resident - 1) }),
          ],
        },
      },
    },
    stopped: { type: 'final' },
  },
});
