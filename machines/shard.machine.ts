/**
 * A shard supervisor: a child of the supervisor that owns the conversations whose ids hash to
 * it, as an Akka Cluster Sharding shard owns its entities. Every activation of one of them goes
 * through it: a start (its header is written, the conversation stays dormant), an activation
 * (wake of a dormant one, resume, fork, restart: the conversation actor is spawned as its
 * child), a passivation (stopped, its log holds it), a termination, and a crash (restarted
 * from its log within a budget, with exponential backoff; XState has no supervision of its own).
 *
 * Conversations are children of shards, not of the supervisor: XState copies a parent's
 * children map on every spawn (SPEC §2: 10k children into one parent take 21 s), so a few
 * hundred conversations per shard keep a spawn cheap at 100k conversations.
 *
 * Events for a conversation that is not active yet are buffered, in order, while it is brought
 * back from its log (the `hydrate` actor), then handed over with the new actor before it
 * starts, as a shard buffers messages for an entity during its activation.
 *
 * Pure: the log is read by the provided `hydrate` actor, and the runtime hears about every
 * activation through the provided actions; time comes from the actor system's clock.
 */
import { enqueueActions, raise, setup, type ActorRefFrom, type AnyActorRef, type AnyEventObject, type PromiseActorLogic } from 'xstate';
import type { RestoredConversation } from '../src/log/restored.js';
import type { LogRecord, SessionMetaPayload } from '../src/protocol/records.js';
import { isoTime, nowOf } from './clock.js';
import { conversationMachine, type ConversationInput } from './conversation.machine.js';
import { headerRecord } from './conversation.steps.js';
import type { PersistReply, PersistenceEvent } from './persistence.machine.js';

/** How a conversation came to be activated. */
export type ActivationOrigin = 'wake' | 'resume' | 'fork' | 'restart';

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

/** What a conversation actor is spawned from: a new log's header, or the state its log replays to. */
export interface ConversationSeed {
  readonly create?: ConversationInput['create'];
  readonly restore?: RestoredConversation;
}

/** What the `hydrate` actor is given: the conversation to bring back from its log, and why. */
export interface HydrateInput {
  readonly id: string;
  readonly origin: ActivationOrigin;
}

/** Events a shard takes (routed to it by the supervisor). */
export type ShardEvent =
  /** Create a conversation: write its header (`session_meta` at seq 0) and leave it dormant. */
  | { type: 'conversation.start'; id: string; meta: SessionMetaPayload }
  /** Activate a conversation: from `seed` at once, or from its log (the `hydrate` actor). */
  | { type: 'conversation.activate'; id: string; origin: ActivationOrigin; seed?: ConversationSeed }
  /** An event for a conversation: delivered now if it is active, else buffered and the conversation activated. */
  | { type: 'conversation.deliver'; id: string; event: AnyEventObject; seed?: ConversationSeed }
  /** Stop an idle conversation (it comes back from its log when next used). */
  | { type: 'conversation.passivate'; id: string }
  /** Stop a conversation for good (closed without its actor, or given up). */
  | { type: 'conversation.terminate'; id: string }
  | { type: 'conversation.restart'; id: string }
  | PersistReply;

/** What a shard tells the supervisor, for its counts. */
export type ShardReport = { type: 'shard.counts'; resident: number; spawned: number; passivated: number; givenUp: number };

/** An activation in progress. */
interface Waiting {
  readonly origin: ActivationOrigin;
  readonly events: readonly AnyEventObject[];
}

interface RestartRecord {
  readonly count: number;
  readonly since: number;
}

/** A shard's context: its settings, the activations in progress with the events waiting for them, and restart budgets. */
export interface ShardContext {
  readonly index: number;
  readonly policy: RestartPolicy;
  /** Conversations being brought back from their logs: why, and the events that wait for them, in order. */
  readonly waiting: Readonly<Record<string, Waiting>>;
  /** Restart counts of conversations that failed, by id. */
  readonly restarts: Readonly<Record<string, RestartRecord>>;
}

/** A shard's input. */
export interface ShardInput {
  readonly index: number;
  readonly policy?: RestartPolicy;
}

/** The actor id (and system id) of conversation `id`'s actor. */
export const conversationActorId = (id: string): string => `conversation:${id}`;
const hydrateActorId = (id: string): string => `hydrate:${id}`;
const HYDRATE_PREFIX = 'hydrate:';
const CONVERSATION_PREFIX = 'conversation:';

type ChildDone = { type: `xstate.done.actor.${string}`; actorId?: string; output?: unknown };
type ChildError = { type: `xstate.error.actor.${string}`; actorId?: string; error?: unknown };

function childId(event: { type: string }, prefix: string): string | null {
  const actorId = (event as { actorId?: string }).actorId ?? event.type.replace(/^xstate\.(done|error)\.actor\./, '');
  return actorId.startsWith(prefix) ? actorId.slice(prefix.length) : null;
}

function budget(ctx: ShardContext, id: string, at: number): RestartRecord {
  const prev = ctx.restarts[id];
  if (!prev || at - prev.since > ctx.policy.windowMs) return { count: 1, since: at };
  return { count: prev.count + 1, since: prev.since };
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k in record) if (k !== key) out[k] = record[k] as T;
  return out;
}

const counts = (delta: Partial<Omit<ShardReport, 'type'>>): ShardReport => ({
  type: 'shard.counts',
  resident: delta.resident ?? 0,
  spawned: delta.spawned ?? 0,
  passivated: delta.passivated ?? 0,
  givenUp: delta.givenUp ?? 0,
});

/**
 * The shard statechart. Provide `hydrate` (a promise actor: `HydrateInput` → the conversation's
 * `RestoredConversation`, replayed from its log) and the actions through which the runtime follows
 * each conversation, and the `mayPassivate` guard (whether nobody follows the conversation now).
 */
export const shardMachine = setup({
  types: {
    context: {} as ShardContext,
    events: {} as ShardEvent | ChildDone | ChildError,
    input: {} as ShardInput,
  },
  actors: {
    conversation: conversationMachine,
    hydrate: {} as PromiseActorLogic<RestoredConversation, HydrateInput>,
  },
  actions: {
    // Provided by the runtime.
    /** The actor of `id` was spawned and is about to start: attach it; `buffered` are the events that waited for it, oldest first. */
    activated: (_, _params: { id: string; origin: ActivationOrigin; buffered: readonly AnyEventObject[] }) => {},
    /** Bringing `id` back from its log (for `origin`) failed: the `buffered` events are refused. */
    activationFailed: (_, _params: { id: string; origin: ActivationOrigin; error: unknown; buffered: readonly AnyEventObject[] }) => {},
    /** The header of a started conversation is durable (or could not be written). */
    started: (_, _params: { id: string; error: { message: string; code: string } | null }) => {},
    /** `id`'s actor is being stopped by passivation. */
    passivated: (_, _params: { id: string }) => {},
    /** `id` ended: closed (its actor reached `closed`) or terminated without one. */
    exited: (_, _params: { id: string }) => {},
    /** `id`'s actor died; it is restarted after a backoff when within its budget. */
    failed: (_, _params: { id: string; error: unknown }) => {},
    /** `id` failed beyond its restart budget and is closed. */
    givenUp: (_, _params: { id: string; error: unknown }) => {},
  },
  guards: {
    mayPassivate: (_, _params: { id: string }) => false,
  },
  delays: {
    backoff: ({ context, event }) => {
      const id = childId(event, CONVERSATION_PREFIX) ?? '';
      const n = context.restarts[id]?.count ?? 1;
      return Math.min(context.policy.backoffMs * 2 ** (n - 1), context.policy.maxBackoffMs);
    },
  },
}).createMachine({
  id: 'shard',
  context: ({ input }) => ({
    index: input.index,
    policy: input.policy ?? DEFAULT_RESTART_POLICY,
    waiting: {},
    restarts: {},
  }),
  on: {
    'conversation.start': {
      actions: enqueueActions(({ event, enqueue, system, self }) => {
        const persistence = system.get('persistence') as AnyActorRef | undefined;
        const header: LogRecord = headerRecord(event.meta, 0, isoTime(self));
        const request = { conversationId: event.id, records: [header], replyTo: self };
        if (persistence) enqueue.sendTo(persistence, { type: 'append', request } satisfies PersistenceEvent);
      }),
    },
    'persist.ack': {
      actions: { type: 'started', params: ({ event }) => ({ id: event.conversationId ?? '', error: null }) },
    },
    'persist.failed': {
      actions: enqueueActions(({ event, enqueue, system }) => {
        const id = event.conversationId ?? '';
        enqueue({ type: 'started', params: { id, error: event.error } });
        const persistence = system.get('persistence') as AnyActorRef | undefined;
        if (persistence) enqueue.sendTo(persistence, { type: 'discard', conversationId: id } satisfies PersistenceEvent);
      }),
    },
    'conversation.activate': {
      actions: enqueueActions(({ context, event, enqueue, self, system }) => {
        const { id } = event;
        if (self.getSnapshot().children[conversationActorId(id)] || id in context.waiting) return;
        if (event.seed) {
          spawnConversation(enqueue, system, context, id, event.origin, event.seed, []);
          return;
        }
        hydrate(enqueue, context, id, event.origin, []);
      }),
    },
    'conversation.deliver': {
      actions: enqueueActions(({ context, event, enqueue, self, system }) => {
        const { id } = event;
        const child = self.getSnapshot().children[conversationActorId(id)];
        if (child) {
          enqueue.sendTo(child, event.event);
          return;
        }
        const waiting = context.waiting[id];
        if (waiting) {
          enqueue.assign({ waiting: { ...context.waiting, [id]: { origin: waiting.origin, events: [...waiting.events, event.event] } } });
          return;
        }
        if (event.seed) spawnConversation(enqueue, system, context, id, 'wake', event.seed, [event.event]);
        else hydrate(enqueue, context, id, 'wake', [event.event]);
      }),
    },
    'conversation.passivate': {
      guard: { type: 'mayPassivate', params: ({ event }) => ({ id: event.id }) },
      actions: enqueueActions(({ event, enqueue, self }) => {
        const child = self.getSnapshot().children[conversationActorId(event.id)];
        if (!child) return;
        enqueue({ type: 'passivated', params: { id: event.id } });
        enqueue.stopChild(child);
        enqueue.sendParent(counts({ resident: -1, passivated: 1 }));
      }),
    },
    'conversation.terminate': {
      actions: enqueueActions(({ event, enqueue, self }) => {
        const child = self.getSnapshot().children[conversationActorId(event.id)];
        if (child) {
          enqueue.stopChild(child);
          enqueue.sendParent(counts({ resident: -1 }));
        }
        enqueue({ type: 'exited', params: { id: event.id } });
      }),
    },
    'conversation.restart': {
      actions: enqueueActions(({ context, event, enqueue, self }) => {
        const { id } = event;
        if (self.getSnapshot().children[conversationActorId(id)] || id in context.waiting) return;
        hydrate(enqueue, context, id, 'restart', []);
      }),
    },
    'xstate.done.actor.*': {
      actions: enqueueActions(({ context, event, enqueue, system }) => {
        const hydrated = childId(event, HYDRATE_PREFIX);
        if (hydrated !== null) {
          enqueue.stopChild(hydrateActorId(hydrated));
          const pending = context.waiting[hydrated];
          const waiting = without(context.waiting, hydrated);
          enqueue.assign({ waiting });
          const restore = (event as ChildDone).output as RestoredConversation;
          spawnConversation(enqueue, system, { ...context, waiting }, hydrated, pending?.origin ?? 'resume', { restore }, pending?.events ?? []);
          return;
        }
        const closed = childId(event, CONVERSATION_PREFIX);
        if (closed === null) return;
        enqueue.stopChild(conversationActorId(closed));
        enqueue.sendParent(counts({ resident: -1 }));
        enqueue({ type: 'exited', params: { id: closed } });
      }),
    },
    'xstate.error.actor.*': {
      actions: enqueueActions(({ context, event, enqueue, self }) => {
        const error = (event as ChildError).error;
        const hydrating = childId(event, HYDRATE_PREFIX);
        if (hydrating !== null) {
          enqueue.stopChild(hydrateActorId(hydrating));
          const pending = context.waiting[hydrating];
          enqueue({ type: 'activationFailed', params: { id: hydrating, origin: pending?.origin ?? 'resume', error, buffered: pending?.events ?? [] } });
          enqueue.assign({ waiting: without(context.waiting, hydrating) });
          return;
        }
        const id = childId(event, CONVERSATION_PREFIX);
        if (id === null) return;
        enqueue.stopChild(conversationActorId(id));
        enqueue.sendParent(counts({ resident: -1 }));
        const at = nowOf(self);
        const next = budget(context, id, at);
        if (next.count <= context.policy.maxRestarts) {
          enqueue({ type: 'failed', params: { id, error } });
          enqueue.assign({ restarts: { ...context.restarts, [id]: next } });
          enqueue(raise({ type: 'conversation.restart', id }, { delay: 'backoff' }));
          return;
        }
        enqueue({ type: 'givenUp', params: { id, error } });
        enqueue.sendParent(counts({ givenUp: 1 }));
      }),
    },
  },
});

/** Bring `id` back from its log (the `hydrate` actor); `events` wait for it. */
function hydrate(enqueue: unknown, ctx: ShardContext, id: string, origin: ActivationOrigin, events: readonly AnyEventObject[]): void {
  const q = enqueue as {
    assign(patch: Partial<ShardContext>): void;
    spawnChild(src: 'hydrate', options: { id: string; input: HydrateInput }): void;
  };
  q.assign({ waiting: { ...ctx.waiting, [id]: { origin, events } } });
  q.spawnChild('hydrate', { id: hydrateActorId(id), input: { id, origin } });
}

/** The subset of XState's `enqueue` a spawn uses. */
interface SpawnEnqueue {
  spawnChild(src: 'conversation', options: { id: string; systemId: string; input: ConversationInput }): void;
  (action: { type: 'activated'; params: { id: string; origin: ActivationOrigin; buffered: readonly AnyEventObject[] } }): void;
  sendParent(event: ShardReport): void;
}

/**
 * Spawn conversation `id` as a child from `seed`, then tell the runtime, which attaches the
 * actor and hands it the `buffered` events before it starts (so they are its first).
 */
function spawnConversation(
  enqueue: unknown,
  system: { get(id: string): AnyActorRef | undefined },
  ctx: ShardContext,
  id: string,
  origin: ActivationOrigin,
  seed: ConversationSeed,
  buffered: readonly AnyEventObject[],
): void {
  const q = enqueue as SpawnEnqueue;
  const persistence = system.get('persistence') as AnyActorRef;
  const input: ConversationInput = {
    id,
    persistence,
    ...(seed.create ? { create: seed.create } : {}),
    ...(seed.restore ? { restore: seed.restore } : {}),
  };
  const actorId = conversationActorId(id);
  q.spawnChild('conversation', { id: actorId, systemId: actorId, input });
  q({ type: 'activated', params: { id, origin, buffered } });
  q.sendParent(counts({ resident: 1, spawned: 1 }));
}

/** A running shard actor. */
export type ShardActorRef = ActorRefFrom<typeof shardMachine>;

