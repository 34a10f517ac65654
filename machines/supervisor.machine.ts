/**
 * The supervisor actor: the root of a runtime's actor system. It owns every activation of every
 * conversation, through shard supervisors (`shard.machine.ts`) that it spawns as they are first
 * needed and routes each conversation's events to (by a hash of its id), and the persistence
 * actor, the one door to the log. Its context counts what the shards report.
 *
 *   supervisor (root)
 *    ├─ persistence                  group commit through the store
 *    ├─ shard:0 … shard:N-1          a few hundred conversations each
 *    │    ├─ conversation:<id>       one per active conversation
 *    │    │    └─ turn               one at a time
 *    │    └─ hydrate:<id>            while a conversation is read back from its log
 *
 * Every quarter of `passivateAfterMs` it asks the runtime (the provided `sweep`) to passivate
 * the conversations quiescent and unused for that long, through their shards: one timer for
 * the whole runtime, not one per conversation.
 *
 * On `shutdown` it drains (the provided `drain` actor closes every conversation and flushes the
 * store), refuses new activations, and stops with every child.
 *
 * Pure: the persistence effect, the shards' effects and the drain are provided actors.
 */
import { assign, enqueueActions, setup, type AnyActorLogic, type AnyEventObject, type PromiseActorLogic } from 'xstate';
import { DEFAULT_RESTART_POLICY, type RestartPolicy, type ShardEvent, type ShardReport } from './shard.machine.js';
import { persistenceMachine } from './persistence.machine.js';

export { DEFAULT_RESTART_POLICY, type RestartPolicy } from './shard.machine.js';

/** Shards a supervisor spreads conversations over unless told otherwise. */
export const DEFAULT_SHARDS = 512;

/** Events for one conversation, routed to its shard. */
type Routed = Exclude<Extract<ShardEvent, { id: string }>, { type: 'conversation.restart' }>;

/** Every event the supervisor takes: events for conversations, its shards' counts, its own passivation sweep, shutdown. */
export type SupervisorEvent = Routed | ShardReport | { type: 'passivation.sweep' } | { type: 'shutdown' };

/** The supervisor's context: its settings and the counts its shards report. */
export interface SupervisorContext {
  readonly policy: RestartPolicy;
  readonly shards: number;
  /** A conversation quiescent and unused this long is passivated (ms; 0 = never). */
  readonly passivateAfterMs: number;
  /** Conversation actors alive now. */
  readonly resident: number;
  /** Conversation actors spawned so far (activations). */
  readonly spawned: number;
  /** Conversations passivated so far. */
  readonly passivated: number;
  /** Conversations given up on (restart budget exhausted). */
  readonly givenUp: number;
}

/** The supervisor's input: the restart policy, the number of shards, the passivation timeout (ms). */
export interface SupervisorInput {
  readonly policy?: RestartPolicy;
  readonly shards?: number;
  readonly passivateAfterMs?: number;
}

/**
 * The shard a conversation belongs to: a hash (FNV-1a) of its id, so ids spread evenly whatever
 * their time prefix.
 */
export function shardOf(id: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

/** How often (ms) the supervisor looks for conversations to passivate: a quarter of the timeout, at least 1 ms. */
export function sweepInterval(passivateAfterMs: number): number {
  return Math.max(1, Math.floor(passivateAfterMs / 4));
}

/** The actor id of shard `index`. */
export const shardActorId = (index: number): string => `shard:${index}`;

/**
 * The supervisor statechart. Provide `shard` (the shard machine with the runtime's effects),
 * `persistence` (the persistence machine with its `commit` actor) and `drain` (closes every
 * conversation and flushes the store).
 */
export const supervisorMachine = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
  },
  actors: {
    shard: {} as AnyActorLogic,
    persistence: persistenceMachine,
    drain: {} as PromiseActorLogic<void, void>,
  },
  actions: {
    route: enqueueActions(({ context, event, enqueue, self }) => {
      if (!('id' in event)) return;
      const index = shardOf(event.id, context.shards);
      const id = shardActorId(index);
      if (!self.getSnapshot().children[id]) {
        enqueue.spawnChild('shard', { id, systemId: id, input: { index, policy: context.policy } });
      }
      enqueue.sendTo(id, event as AnyEventObject);
    }),
    /** Look for idle conversations every quarter of the passivation timeout (as Akka checks idle entities periodically). */
    scheduleSweep: enqueueActions(({ context, enqueue }) => {
      if (context.passivateAfterMs <= 0) return;
      enqueue.raise({ type: 'passivation.sweep' }, { id: 'passivation.sweep', delay: sweepInterval(context.passivateAfterMs) });
    }),
    // Provided by the runtime: passivate the conversations quiescent and unused for
    // `context.passivateAfterMs` (it reads the time from the actor system's clock, `nowOf(self)`).
    sweep: () => {},
    count: assign(({ context, event }) => {
      if (event.type !== 'shard.counts') return {};
      return {
        resident: Math.max(0, context.resident + event.resident),
        spawned: context.spawned + event.spawned,
        passivated: context.passivated + event.passivated,
        givenUp: context.givenUp + event.givenUp,
      };
    }),
  },
}).createMachine({
  id: 'supervisor',
  context: ({ input }) => ({
    policy: input.policy ?? DEFAULT_RESTART_POLICY,
    shards: Math.max(1, Math.floor(input.shards ?? DEFAULT_SHARDS)),
    passivateAfterMs: input.passivateAfterMs ?? 0,
    resident: 0,
    spawned: 0,
    passivated: 0,
    givenUp: 0,
  }),
  // The one door to the log lives as long as the supervisor.
  invoke: { id: 'persistence', systemId: 'persistence', src: 'persistence' },
  initial: 'running',
  on: {
    'shard.counts': { actions: 'count' },
  },
  states: {
    running: {
      entry: 'scheduleSweep',
      on: {
        'passivation.sweep': { actions: ['sweep', 'scheduleSweep'] },
        'conversation.start': { actions: 'route' },
        'conversation.activate': { actions: 'route' },
        'conversation.deliver': { actions: 'route' },
        'conversation.passivate': { actions: 'route' },
        'conversation.terminate': { actions: 'route' },
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
        // Closing goes on while draining: a close reaches a conversation being brought back, and
        // conversations without an actor are ended through their shard.
        'conversation.deliver': { actions: 'route' },
        'conversation.passivate': { actions: 'route' },
        'conversation.terminate': { actions: 'route' },
      },
    },
    stopped: { type: 'final' },
  },
});
