import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, type AnyActorRef } from 'xstate';
import { persistenceMachine, type CommitInput, type CommitOutcome, type PersistReply } from '../../machines/persistence.machine.js';
import type { LogRecord } from '../../src/protocol/records.js';

/** A commit actor whose promises the test settles by hand. */
function controlledCommit() {
  const calls: { input: CommitInput; resolve: (o: CommitOutcome[]) => void; reject: (e: unknown) => void }[] = [];
  const logic = fromPromise<readonly CommitOutcome[], CommitInput>(
    ({ input }) => new Promise((resolve, reject) => calls.push({ input, resolve: resolve as never, reject })),
  );
  return { calls, logic };
}

/** An actor that records what it is sent (a conversation, as the persistence actor sees it). */
function recorder() {
  const got: PersistReply[] = [];
  const actor = createActor(fromCallback(({ receive }) => receive((e) => void got.push(e as PersistReply)))).start();
  return { got, actor: actor as AnyActorRef };
}

const rec = (seq: number): LogRecord => ({ ts: '2026-01-01T00:00:00.000Z', seq, type: 'event', payload: { type: 'thread.name_updated', name: `n${seq}` } });
const append = (conversationId: string, replyTo: AnyActorRef, ...seqs: number[]) => ({
  type: 'append' as const,
  request: { conversationId, records: seqs.map(rec), replyTo },
});
const settle = () => new Promise((r) => setTimeout(r, 0));
const ok = (conversationId: string, lastSeq: number): CommitOutcome => ({ conversationId, ok: true, lastSeq });

describe('persistence machine', () => {
  it('commits at once when idle, then group-commits everything that arrived meanwhile', async () => {
    const { calls, logic } = controlledCommit();
    const actor = createActor(persistenceMachine.provide({ actors: { commit: logic } })).start();
    const a = recorder();
    const b = recorder();
    actor.send(append('A', a.actor, 0));
    await settle();
    expect(calls).toHaveLength(1);
    expect(actor.getSnapshot().value).toBe('committing');
    // While the first commit is in flight, records from two conversations queue up.
    actor.send(append('A', a.actor, 1, 2));
    actor.send(append('B', b.actor, 0));
    actor.send(append('A', a.actor, 3));
    await settle();
    expect(calls).toHaveLength(1);
    calls[0]!.resolve([ok('A', 0)]);
    await settle();
    expect(a.got).toEqual([{ type: 'persist.ack', seq: 0, conversationId: 'A' }]);
    // One batch, oldest first, per conversation in order.
    expect(calls).toHaveLength(2);
    expect(calls[1]!.input.requests.map((r) => [r.conversationId, r.records.map((x) => x.seq)])).toEqual([
      ['A', [1, 2]],
      ['B', [0]],
      ['A', [3]],
    ]);
    calls[1]!.resolve([ok('A', 3), ok('B', 0)]);
    await settle();
    expect(a.got.at(-1)).toEqual({ type: 'persist.ack', seq: 3, conversationId: 'A' });
    expect(b.got).toEqual([{ type: 'persist.ack', seq: 0, conversationId: 'B' }]);
    expect(actor.getSnapshot().value).toBe('idle');
    expect(actor.getSnapshot().context.batches).toBe(2);
  });

  it('parks a failed conversation with everything it sent since, and commits them in order on retry', async () => {
    const { calls, logic } = controlledCommit();
    const actor = createActor(persistenceMachine.provide({ actors: { commit: logic } })).start();
    const a = recorder();
    const b = recorder();
    actor.send(append('A', a.actor, 0));
    await settle();
    actor.send(append('A', a.actor, 1));
    actor.send(append('B', b.actor, 0));
    calls[0]!.resolve([{ conversationId: 'A', ok: false, firstSeq: 0, error: { message: 'ENOSPC', code: 'store_error' } }]);
    await settle();
    expect(a.got).toEqual([{ type: 'persist.failed', seq: 0, error: { message: 'ENOSPC', code: 'store_error' }, conversationId: 'A' }]);
    // B goes on; A's later record is held back with the failed one.
    expect(calls).toHaveLength(2);
    expect(calls[1]!.input.requests.map((r) => r.conversationId)).toEqual(['B']);
    expect(Object.keys(actor.getSnapshot().context.parked)).toEqual(['A']);
    actor.send(append('A', a.actor, 2));
    calls[1]!.resolve([ok('B', 0)]);
    await settle();
    expect(actor.getSnapshot().context.parked.A?.map((r) => r.records[0]?.seq)).toEqual([0, 1, 2]);
    actor.send({ type: 'retry', conversationId: 'A' });
    await settle();
    expect(calls[2]!.input.requests.map((r) => r.records.map((x) => x.seq))).toEqual([[0], [1], [2]]);
    calls[2]!.resolve([ok('A', 2)]);
    await settle();
    expect(a.got.at(-1)).toEqual({ type: 'persist.ack', seq: 2, conversationId: 'A' });
    expect(actor.getSnapshot().context.parked).toEqual({});
  });

  it('reports a commit actor that throws to every conversation of the batch, losing nothing', async () => {
    const { calls, logic } = controlledCommit();
    const actor = createActor(persistenceMachine.provide({ actors: { commit: logic } })).start();
    const a = recorder();
    const b = recorder();
    actor.send(append('A', a.actor, 0));
    await settle();
    actor.send(append('B', b.actor, 0));
    calls[0]!.reject(new Error('store closed'));
    await settle();
    expect(a.got[0]).toMatchObject({ type: 'persist.failed', seq: 0, error: { message: 'store closed' } });
    expect(b.got[0]).toMatchObject({ type: 'persist.failed', seq: 0 });
    expect(Object.keys(actor.getSnapshot().context.parked).sort()).toEqual(['A', 'B']);
    actor.send({ type: 'discard', conversationId: 'B' });
    expect(Object.keys(actor.getSnapshot().context.parked)).toEqual(['A']);
  });

  it('emits flushed once everything before the flush is settled', async () => {
    const { calls, logic } = controlledCommit();
    const actor = createActor(persistenceMachine.provide({ actors: { commit: logic } })).start();
    const flushed: string[] = [];
    actor.on('flushed', (e) => void flushed.push(e.token));
    actor.send({ type: 'flush', token: 'idle' });
    expect(flushed).toEqual(['idle']);
    const a = recorder();
    actor.send(append('A', a.actor, 0));
    await settle();
    actor.send({ type: 'flush', token: 'busy' });
    expect(flushed).toEqual(['idle']);
    calls[0]!.resolve([ok('A', 0)]);
    await settle();
    expect(flushed).toEqual(['idle', 'busy']);
  });
});
