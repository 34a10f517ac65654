/**
 * The runtime's actor system: the supervisor as its root, with the persistence actor (bound to
 * the store: the only place that calls `Store.commit`), the shard supervisors (bound to the
 * runtime's effects) and the conversation and turn actors (bound to the agent). One system, so
 * one inspection observer sees the whole supervision tree.
 */
import { createActor, fromPromise, type AnyEventObject } from 'xstate';
import { nowOf, type Clock } from '../../machines/clock.js';
import { conversationMachine, type ConversationActorRef, type ConversationContext } from '../../machines/conversation.machine.js';
import { persistenceMachine, type CommitInput, type CommitOutcome } from '../../machines/persistence.machine.js';
import { conversationActorId, shardMachine, type ActivationOrigin, type HydrateInput, type RestartPolicy } from '../../machines/shard.machine.js';
import { supervisorMachine, type SupervisorEvent } from '../../machines/supervisor.machine.js';
import { turnMachine } from '../../machines/turn.machine.js';
import type { Agent } from '../agents/agent.js';
import type { RestoredConversation } from '../log/restored.js';
import type { PersistFailure } from '../log/types.js';
import type { LogRecord } from '../protocol/records.js';
import type { CommitEntry, CommitOptions, Durability, Store } from '../store/store.js';
import type { SnapshotView } from './conversation.js';
import type { InspectionObserver } from './options.js';
import { agentRunner, type TurnHost } from './runner.js';

/** What the shards' decisions mean for the runtime (see `shardMachine`'s provided actions). */
export interface SystemEffects {
  /** Read a conversation back from its log: the state its actor resumes from. */
  hydrate(input: HydrateInput): Promise<RestoredConversation>;
  activated(id: string, origin: ActivationOrigin, actor: ConversationActorRef, buffered: readonly AnyEventObject[]): void;
  /** Bringing `id` back failed; `buffered` are the events that waited for it, oldest first. */
  activationFailed(id: string, origin: ActivationOrigin, error: unknown, buffered: readonly AnyEventObject[]): void;
  started(id: string, failure: PersistFailure | null): void;
  mayPassivate(id: string): boolean;
  passivated(id: string): void;
  exited(id: string): void;
  failed(id: string, error: unknown): void;
  givenUp(id: string, error: unknown): void;
  /** Ask for the passivation of every conversation quiescent and unused for `idleMs` at `now` (ms). */
  sweep(now: number, idleMs: number): void;
}

/** What the actor system is built from. */
export interface SystemOptions {
  readonly store: Store;
  readonly agent: Agent;
  readonly durability: Durability;
  /** ms */
  readonly fsyncIntervalMs?: number;
  readonly clock: Clock;
  readonly inspect?: InspectionObserver;
  readonly restartPolicy?: RestartPolicy;
  readonly shards?: number;
  /** ms; 0 never */
  readonly passivateAfterMs: number;
  /** The conversation a turn belongs to (what its agent runner reads). */
  readonly host: (conversationId: string) => TurnHost | undefined;
  readonly effects: SystemEffects;
  /** A failure of the supervisor itself. */
  readonly onError: (error: unknown) => void;
}

/** The running actor system, as the runtime drives it. */
export interface ActorSystem {
  send(event: SupervisorEvent): void;
  /** Resolve once everything sent to the persistence actor so far is committed (or parked). */
  flush(): Promise<void>;
  /** Drop what the persistence actor holds back for a conversation (its log is the truth). */
  discard(conversationId: string): void;
  /** The machine snapshot of a conversation that is not active, to check ops against. */
  preview(rest: { readonly value: unknown; readonly context: ConversationContext }): SnapshotView;
  /** Drain (`drain` closes every conversation and flushes) and stop every actor. */
  shutdown(drain: () => Promise<void>): Promise<void>;
}

/** Commit a batch through the store: one entry per conversation, its records and user messages in order. */
function entriesOf(input: CommitInput): CommitEntry[] {
  const byId = new Map<string, { records: LogRecord[]; messages: string[] | null }>();
  for (const request of input.requests) {
    let entry = byId.get(request.conversationId);
    if (!entry) {
      entry = { records: [], messages: null };
      byId.set(request.conversationId, entry);
    }
    for (const r of request.records) entry.records.push(r);
    if (request.messages) for (const m of request.messages) (entry.messages ??= []).push(m);
  }
  return [...byId].map(([conversationId, e]) => ({ conversationId, records: e.records, ...(e.messages ? { messages: e.messages } : {}) }));
}

/** Build and start the actor system. */
export function startSystem(options: SystemOptions): ActorSystem {
  const { store, effects } = options;
  const commitOptions: CommitOptions = {
    durability: options.durability,
    ...(options.fsyncIntervalMs !== undefined ? { fsyncIntervalMs: options.fsyncIntervalMs } : {}),
  };
  // The one door to the log: no other code calls `Store.commit`.
  const persistenceCommit = fromPromise<readonly CommitOutcome[], CommitInput>(function commitThroughPersistence({ input }) {
    return store.commit(entriesOf(input), commitOptions);
  });
  const conversation = conversationMachine.provide({
    actors: { turn: turnMachine.provide({ actors: { agentRunner: agentRunner(options.agent, options.host) } }) },
  });
  // A throw inside an action would kill the shard and every conversation in it (XState):
  // an effect that fails is reported instead.
  const safely = (effect: () => void): void => {
    try {
      effect();
    } catch (err) {
      options.onError(err);
    }
  };
  const shard = shardMachine.provide({
    actors: {
      conversation,
      hydrate: fromPromise<RestoredConversation, HydrateInput>(({ input }) => effects.hydrate(input)),
    },
    actions: {
      activated: ({ system }, p) =>
        safely(() => {
          const actor = system.get(conversationActorId(p.id)) as ConversationActorRef | undefined;
          if (actor) effects.activated(p.id, p.origin, actor, p.buffered);
        }),
      activationFailed: (_, p) => safely(() => effects.activationFailed(p.id, p.origin, p.error, p.buffered)),
      started: (_, p) => safely(() => effects.started(p.id, p.error)),
      passivated: (_, p) => safely(() => effects.passivated(p.id)),
      exited: (_, p) => safely(() => effects.exited(p.id)),
      failed: (_, p) => safely(() => effects.failed(p.id, p.error)),
      givenUp: (_, p) => safely(() => effects.givenUp(p.id, p.error)),
    },
    guards: {
      mayPassivate: (_, p) => {
        try {
          return effects.mayPassivate(p.id);
        } catch (err) {
          options.onError(err);
          return false;
        }
      },
    },
  });
  let drain: () => Promise<void> = async () => {};
  const supervisor = createActor(
    supervisorMachine.provide({
      actors: {
        shard,
        persistence: persistenceMachine.provide({ actors: { commit: persistenceCommit } }),
        drain: fromPromise(() => drain()),
      },
      actions: {
        sweep: ({ self, context }) => safely(() => effects.sweep(nowOf(self), context.passivateAfterMs)),
      },
    }),
    {
      id: 'supervisor',
      systemId: 'supervisor',
      clock: options.clock,
      ...(options.inspect ? { inspect: options.inspect } : {}),
      input: {
        ...(options.restartPolicy ? { policy: options.restartPolicy } : {}),
        ...(options.shards !== undefined ? { shards: options.shards } : {}),
        passivateAfterMs: options.passivateAfterMs,
      },
    },
  );
  supervisor.subscribe({ error: (err) => options.onError(err) });
  supervisor.start();
  const persistence = (): ReturnType<typeof supervisor.system.get> => supervisor.system.get('persistence');
  let flushTokens = 0;
  return {
    send: (event) => supervisor.send(event),
    flush: () => {
      const target = persistence();
      if (!target) return Promise.resolve();
      const token = `flush-${++flushTokens}`;
      return new Promise((resolve) => {
        const sub = target.on('flushed', (event: { token: string }) => {
          if (event.token !== token) return;
          sub.unsubscribe();
          resolve();
        });
        target.send({ type: 'flush', token });
      });
    },
    discard: (conversationId) => persistence()?.send({ type: 'discard', conversationId }),
    preview: (rest) => conversation.resolveState({ value: rest.value as never, context: rest.context }) as unknown as SnapshotView,
    shutdown: (drainAll) => {
      drain = drainAll;
      supervisor.send({ type: 'shutdown' });
      return new Promise<void>((resolve) => {
        const check = (): boolean => supervisor.getSnapshot().status !== 'active';
        if (check()) return resolve();
        const sub = supervisor.subscribe({
          next: () => {
            if (!check()) return;
            sub.unsubscribe();
            resolve();
          },
          error: () => resolve(),
          complete: () => resolve(),
        });
      });
    },
  };
}
