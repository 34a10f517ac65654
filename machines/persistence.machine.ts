/**
 * The persistence effect actor: the only writer. Conversations send it their records;
 * it group-commits everything that arrived while the previous commit was in flight
 * (many conversations share one write per file and one fsync per file), then
 * acknowledges each conversation with the highest `seq` now durable, as Codex's rollout
 * writer task acknowledges `Flush`, but for all conversations at once.
 *
 * A conversation whose records fail to commit is *parked*: its failed records and every
 * later one are held, in order, until it sends `retry`, so a log never gets a gap.
 *
 * Pure: the commit itself is the provided `commit` actor (the runtime binds it to a store).
 */
import { assign, enqueueActions, setup, type AnyActorRef, type PromiseActorLogic } from 'xstate';
import type { CommitOutcome, PersistFailure } from '../src/log/types.js';
import type { LogRecord } from '../src/protocol/records.js';

export type { CommitOutcome, PersistFailure } from '../src/log/types.js';

/** Records of one conversation to append, in `seq` order, and who to acknowledge. */
export interface AppendRequest {
  readonly conversationId: string;
  readonly records: readonly LogRecord[];
  readonly replyTo: AnyActorRef;
  /**
   * Whether the sender waits for this acknowledgement (default true). A conversation is
   * acknowledged for a batch when any of its requests in it asks; the acknowledged `seq` covers
   * every earlier record.
   */
  readonly ack?: boolean;
  /**
   * The texts of the user messages among `records`, for the global message history: committed
   * in the same commit as the records they are in.
   */
  readonly messages?: readonly string[];
}


/** Input of the `commit` actor: the batch, oldest request first. */
export interface CommitInput {
  readonly requests: readonly AppendRequest[];
}

/** What the persistence actor sends back. */
export type PersistReply =
  | { type: 'persist.ack'; seq: number; conversationId?: string }
  | { type: 'persist.failed'; seq: number; error: PersistFailure; conversationId?: string };

export type PersistenceEvent =
  | { type: 'append'; request: AppendRequest }
  | { type: 'retry'; conversationId: string }
  | { type: 'discard'; conversationId: string }
  | { type: 'flush'; token: string };

/** Emitted when everything received before `flush { token }` is committed (or parked). */
export type PersistenceEmitted = { type: 'flushed'; token: string };

/** An immutable stack of requests, newest first; O(1) to add. */
interface Pending {
  readonly head: AppendRequest;
  readonly tail: Pending | null;
}

export interface PersistenceContext {
  readonly pending: Pending | null;
  readonly batch: readonly AppendRequest[];
  readonly parked: Readonly<Record<string, readonly AppendRequest[]>>;
  readonly flushWaiters: readonly string[];
  /** Batches committed so far (for observation). */
  readonly batches: number;
}

function drain(pending: Pending | null): AppendRequest[] {
  const out: AppendRequest[] = [];
  for (let cell = pending; cell !== null; cell = cell.tail) out.push(cell.head);
  return out.reverse();
}

function push(pending: Pending | null, requests: readonly AppendRequest[]): Pending | null {
  let out = pending;
  for (const head of requests) out = { head, tail: out };
  return out;
}

function firstSeqOf(requests: readonly AppendRequest[]): number {
  return requests[0]?.records[0]?.seq ?? -1;
}

/**
 * The persistence statechart. Provide `commit` (a promise actor taking `CommitInput` and
 * resolving to one `CommitOutcome` per conversation of the batch; it must not reject for a
 * single conversation's failure).
 */
export const persistenceMachine = setup({
  types: {
    context: {} as PersistenceContext,
    events: {} as PersistenceEvent,
    emitted: {} as PersistenceEmitted,
  },
  actors: {
    commit: {} as PromiseActorLogic<readonly CommitOutcome[], CommitInput>,
  },
  guards: {
    isParked: ({ context, event }) =>
      (event.type === 'append' ? event.request.conversationId : event.type === 'retry' ? event.conversationId : '') in
      context.parked,
    hasPending: ({ context }) => context.pending !== null,
  },
  actions: {
    enqueue: assign({
      pending: ({ context, event }) => (event.type === 'append' ? { head: event.request, tail: context.pending } : context.pending),
    }),
    park: assign({
      parked: ({ context, event }) => {
        if (event.type !== 'append') return context.parked;
        const id = event.request.conversationId;
        return { ...context.parked, [id]: [...(context.parked[id] ?? []), event.request] };
      },
    }),
    unpark: assign(({ context, event }) => {
      if (event.type !== 'retry' && event.type !== 'discard') return {};
      const { [event.conversationId]: held = [], ...parked } = context.parked;
      return { parked, pending: event.type === 'retry' ? push(context.pending, held) : context.pending };
    }),
    addFlushWaiter: assign({
      flushWaiters: ({ context, event }) => (event.type === 'flush' ? [...context.flushWaiters, event.token] : context.flushWaiters),
    }),
    notifyFlushed: enqueueActions(({ context, enqueue }) => {
      for (const token of context.flushWaiters) enqueue.emit({ type: 'flushed', token });
      enqueue.assign({ flushWaiters: [] });
    }),
    takeBatch: assign(({ context }) => ({ batch: drain(context.pending), pending: null })),
  },
}).createMachine({
  id: 'persistence',
  context: { pending: null, batch: [], parked: {}, flushWaiters: [], batches: 0 },
  initial: 'idle',
  on: {
    discard: { actions: 'unpark' },
  },
  states: {
    idle: {
      on: {
        append: [
          { guard: 'isParked', actions: 'park' },
          { target: 'committing', actions: 'enqueue' },
        ],
        retry: { guard: 'isParked', target: 'settling', actions: 'unpark' },
        flush: { actions: enqueueActions(({ event, enqueue }) => enqueue.emit({ type: 'flushed', token: event.token })) },
      },
    },
    committing: {
      entry: 'takeBatch',
      invoke: {
        src: 'commit',
        input: ({ context }) => ({ requests: context.batch }),
        onDone: {
          target: 'settling',
          actions: enqueueActions(({ context, event, enqueue }) => {
            const byConversation = new Map<string, AppendRequest[]>();
            for (const request of context.batch) {
              const list = byConversation.get(request.conversationId);
              if (list) list.push(request);
              else byConversation.set(request.conversationId, [request]);
            }
            let parked = context.parked;
            let pending = context.pending;
            for (const outcome of event.output) {
              const requests = byConversation.get(outcome.conversationId);
              const replyTo = requests?.[0]?.replyTo;
              if (!requests || !replyTo) continue;
              if (outcome.ok) {
                if (requests.some((r) => r.ack !== false)) {
                  enqueue.sendTo(replyTo, { type: 'persist.ack', seq: outcome.lastSeq, conversationId: outcome.conversationId } satisfies PersistReply);
                }
                continue;
              }
              // Hold this conversation's failed records and everything it sent since, in order.
              const later = drain(pending).filter((r) => r.conversationId === outcome.conversationId);
              if (later.length > 0) {
                pending = push(null, drain(pending).filter((r) => r.conversationId !== outcome.conversationId));
              }
              parked = { ...parked, [outcome.conversationId]: [...requests, ...later] };
              enqueue.sendTo(replyTo, { type: 'persist.failed', seq: outcome.firstSeq, error: outcome.error, conversationId: outcome.conversationId } satisfies PersistReply);
            }
            enqueue.assign({ parked, pending, batch: [], batches: context.batches + 1 });
          }),
        },
        onError: {
          target: 'settling',
          actions: enqueueActions(({ context, event, enqueue }) => {
            // The commit actor itself failed: nothing of the batch is known to be durable.
            // Its code when it has one (`store_unavailable` for a database gone, say).
            const code = (event.error as { code?: unknown } | null)?.code;
            const error: PersistFailure = {
              message: event.error instanceof Error ? event.error.message : String(event.error),
              code: typeof code === 'string' && /^[a-z_]+$/.test(code) ? code : 'store_error',
            };
            const all = [...context.batch, ...drain(context.pending)];
            const parked: Record<string, AppendRequest[]> = { ...context.parked } as Record<string, AppendRequest[]>;
            const told = new Set<string>();
            for (const request of all) {
              const held = parked[request.conversationId];
              parked[request.conversationId] = held ? [...held, request] : [request];
              if (!told.has(request.conversationId)) {
                told.add(request.conversationId);
                const first = firstSeqOf([request]);
                enqueue.sendTo(request.replyTo, { type: 'persist.failed', seq: first, error, conversationId: request.conversationId } satisfies PersistReply);
              }
            }
            enqueue.assign({ parked, pending: null, batch: [], batches: context.batches + 1 });
          }),
        },
      },
      on: {
        append: [{ guard: 'isParked', actions: 'park' }, { actions: 'enqueue' }],
        retry: { guard: 'isParked', actions: 'unpark' },
        flush: { actions: 'addFlushWaiter' },
      },
    },
    settling: {
      always: [{ guard: 'hasPending', target: 'committing' }, { target: 'idle', actions: 'notifyFlushed' }],
    },
  },
});
