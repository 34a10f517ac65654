import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, fromPromise, SimulatedClock, type AnyActorLogic } from 'xstate';
import { conversationMachine } from '../../machines/conversation.machine.js';
import { persistenceMachine, type CommitInput, type CommitOutcome } from '../../machines/persistence.machine.js';
import { shardMachine, type RestartPolicy } from '../../machines/shard.machine.js';
import { shardOf, supervisorMachine } from '../../machines/supervisor.machine.js';
import type { RestoredConversation } from '../../src/log/restored.js';

const policy: RestartPolicy = { maxRestarts: 2, windowMs: 1_000, backoffMs: 100, maxBackoffMs: 150 };
const config = { model: 'local', cwd: '/tmp', approvalPolicy: 'on-request' as const };
const restore: RestoredConversation = {
  nextSeq: 1,
  config,
  name: null,
  turns: 0,
  historyTurns: 0,
  usage: { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_output_tokens: 0 },
  sessionApprovals: [],
  queue: [],
  openTurn: null,
  failed: null,
};
const meta = (id: string) => ({ format: 1, id, created_at: '2026-01-01T00:00:00.000Z', config });

/** A supervisor whose shards record what they tell the runtime; conversations run an inert turn. */
function harness(drain: () => Promise<void> = async () => {}, passivateAfterMs = 0) {
  const calls: string[] = [];
  const clock = Object.assign(new SimulatedClock(), {});
  const committed: CommitInput[] = [];
  const commit = fromPromise<readonly CommitOutcome[], CommitInput>(async ({ input }) => {
    committed.push(input);
    return input.requests.map((r) => ({ conversationId: r.conversationId, ok: true as const, lastSeq: r.records.at(-1)?.seq ?? -1 }));
  });
  const conversation = conversationMachine.provide({ actors: { turn: fromCallback(() => {}) as unknown as AnyActorLogic as never } });
  const shard = shardMachine.provide({
    actors: { conversation, hydrate: fromPromise(async ({ input }) => (calls.push(`hydrate ${input.id} ${input.origin}`), restore)) },
    actions: {
      activated: (_, p) => void calls.push(`activated ${p.id} ${p.origin}${p.buffered.length ? ` +${p.buffered.length}` : ''}`),
      activationFailed: (_, p) => void calls.push(`activation-failed ${p.id}`),
      started: (_, p) => void calls.push(`started ${p.id}${p.error ? ' failed' : ''}`),
      passivated: (_, p) => void calls.push(`passivated ${p.id}`),
      exited: (_, p) => void calls.push(`exited ${p.id}`),
      failed: (_, p) => void calls.push(`failed ${p.id}`),
      givenUp: (_, p) => void calls.push(`give-up ${p.id}`),
    },
    guards: { mayPassivate: () => true },
  });
  const machine = supervisorMachine.provide({
    actors: { shard, persistence: persistenceMachine.provide({ actors: { commit } }), drain: fromPromise(drain) },
    actions: { sweep: ({ context }) => void calls.push(`sweep after ${context.passivateAfterMs}`) },
  });
  const actor = createActor(machine, { input: { policy, shards: 4, passivateAfterMs }, clock }).start();
  const child = (id: string) => actor.system.get(`conversation:${id}`);
  return { actor, calls, clock, child, committed };
}

const tick = () => new Promise((r) => setTimeout(r, 0));
/** Kill a conversation actor: an error event no state handles escalates (as a bug in an action would). */
const kill = (ref: { send(e: unknown): void } | undefined) => ref?.send({ type: 'xstate.error.actor.turn', error: new Error('boom') } as never);

describe('supervisor machine', () => {
  it('spreads conversations over shards by their id, the same id always to the same shard', () => {
    const ids = Array.from({ length: 400 }, (_, i) => `01J${String(i).padStart(23, '0')}`);
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(shardOf(id, 8), (counts.get(shardOf(id, 8)) ?? 0) + 1);
    expect(counts.size).toBe(8);
    for (const n of counts.values()) expect(n).toBeGreaterThan(20);
    expect(shardOf(ids[7]!, 8)).toBe(shardOf(ids[7]!, 8));
  });

  it('activates, terminates and ends conversations through their shards, counting them', async () => {
    const { actor, calls, child } = harness();
    actor.send({ type: 'conversation.activate', id: 'A', origin: 'wake', seed: { restore } });
    actor.send({ type: 'conversation.activate', id: 'B', origin: 'resume' });
    await tick();
    expect(actor.getSnapshot().context).toMatchObject({ resident: 2, spawned: 2 });
    // The shards are children of the supervisor; the conversations are children of their shards.
    expect(Object.keys(actor.getSnapshot().children).filter((k) => k.startsWith('shard:')).length).toBeGreaterThan(0);
    expect((child('A') as unknown as { _parent?: { id: string } })._parent?.id).toMatch(/^shard:/);
    actor.send({ type: 'conversation.terminate', id: 'A' });
    child('B')?.send({ type: 'shutdown', submissionId: 's1' } as never);
    expect(calls).toEqual(['activated A wake', 'hydrate B resume', 'activated B resume', 'exited A', 'exited B']);
    expect(actor.getSnapshot().context.resident).toBe(0);
  });

  it('starts a conversation dormant (its header written, no actor), then counts it once it is first used', async () => {
    const { actor, calls, child, committed } = harness();
    actor.send({ type: 'conversation.start', id: 'A', meta: meta('A') });
    await tick();
    expect(calls).toEqual(['started A']);
    expect(committed[0]?.requests[0]?.records[0]).toMatchObject({ seq: 0, type: 'session_meta' });
    expect(child('A')).toBeUndefined();
    expect(actor.getSnapshot().context).toMatchObject({ resident: 0, spawned: 0 });
    // Its first op wakes it; the op waits for the actor and is its first event.
    actor.send({ type: 'conversation.deliver', id: 'A', event: { type: 'set_name', name: 'n', submissionId: 's1' }, seed: { restore } });
    expect(calls).toEqual(['started A', 'activated A wake +1']);
    expect(actor.getSnapshot().context).toMatchObject({ resident: 1, spawned: 1 });
    actor.send({ type: 'conversation.terminate', id: 'A' });
    expect(actor.getSnapshot().context.resident).toBe(0);
  });

  it('buffers events for a conversation brought back from its log, and passivates it', async () => {
    const { actor, calls, child } = harness();
    actor.send({ type: 'conversation.deliver', id: 'A', event: { type: 'set_name', name: 'one', submissionId: 's1' } });
    actor.send({ type: 'conversation.deliver', id: 'A', event: { type: 'set_name', name: 'two', submissionId: 's2' } });
    expect(child('A')).toBeUndefined();
    await tick();
    expect(calls).toEqual(['hydrate A wake', 'activated A wake +2']);
    actor.send({ type: 'conversation.passivate', id: 'A' });
    expect(child('A')).toBeUndefined();
    expect(calls.at(-1)).toBe('passivated A');
    expect(actor.getSnapshot().context).toMatchObject({ resident: 0, passivated: 1 });
  });

  it('restarts a failed conversation after an exponential backoff, within its budget', async () => {
    const { actor, calls, clock, child } = harness();
    actor.send({ type: 'conversation.activate', id: 'A', origin: 'wake', seed: { restore } });
    kill(child('A'));
    clock.increment(99);
    expect(calls).not.toContain('hydrate A restart');
    clock.increment(1);
    await tick();
    expect(calls.filter((c) => c === 'activated A restart')).toHaveLength(1);
    clock.increment(100); // t = 200
    kill(child('A'));
    clock.increment(149); // the 2nd backoff is 200 ms, capped at 150
    await tick();
    expect(calls.filter((c) => c === 'activated A restart')).toHaveLength(1);
    clock.increment(1);
    await tick();
    expect(calls.filter((c) => c === 'activated A restart')).toHaveLength(2);
    // A third failure inside the window exhausts the budget.
    clock.increment(150); // t = 500
    kill(child('A'));
    clock.increment(1_000);
    await tick();
    expect(calls.filter((c) => c === 'activated A restart')).toHaveLength(2);
    expect(calls).toContain('give-up A');
    expect(actor.getSnapshot().context.givenUp).toBe(1);
  });

  it('renews the budget after the window', async () => {
    const { actor, calls, clock, child } = harness();
    actor.send({ type: 'conversation.activate', id: 'A', origin: 'wake', seed: { restore } });
    for (let i = 0; i < 4; i++) {
      kill(child('A'));
      clock.increment(200);
      await tick();
      clock.increment(1_800);
    }
    expect(calls.filter((c) => c === 'activated A restart')).toHaveLength(4);
    expect(calls).not.toContain('give-up A');
  });

  it('looks for idle conversations every quarter of the passivation timeout, with one timer, and never when it is 0', () => {
    const { calls, clock } = harness(async () => {}, 400);
    clock.increment(99);
    expect(calls).toEqual([]);
    clock.increment(1);
    expect(calls).toEqual(['sweep after 400']);
    for (let i = 0; i < 3; i++) clock.increment(100);
    expect(calls).toHaveLength(4);
    const off = harness();
    off.clock.increment(10_000_000);
    expect(off.calls).toEqual([]);
  });

  it('drains on shutdown, refuses new conversations, and stops', async () => {
    let release!: () => void;
    const { actor, calls } = harness(() => new Promise<void>((r) => (release = r)));
    actor.send({ type: 'shutdown' });
    expect(actor.getSnapshot().value).toBe('draining');
    actor.send({ type: 'conversation.activate', id: 'late', origin: 'wake', seed: { restore } });
    actor.send({ type: 'conversation.start', id: 'later', meta: meta('later') });
    await tick();
    expect(calls).toEqual([]);
    release();
    await tick();
    expect(actor.getSnapshot().status).toBe('done');
  });
});
