import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { supervisorMachine, type RestartPolicy } from '../../machines/supervisor.machine.js';

const policy: RestartPolicy = { maxRestarts: 2, windowMs: 1_000, backoffMs: 100, maxBackoffMs: 150 };

function harness(drain: () => Promise<void> = async () => {}) {
  const calls: string[] = [];
  const clock = new SimulatedClock();
  const machine = supervisorMachine.provide({
    actions: {
      spawnConversation: (_, p) => void calls.push(`spawn ${p.id} ${p.origin}`),
      stopConversation: (_, p) => void calls.push(`stop ${p.id}`),
      releaseConversation: (_, p) => void calls.push(`release ${p.id}`),
      restartConversation: (_, p) => void calls.push(`restart ${p.id}`),
      giveUp: (_, p) => void calls.push(`give-up ${p.id}`),
    },
    actors: { drain: fromPromise(drain) },
  });
  const actor = createActor(machine, { input: { policy }, clock }).start();
  return { actor, calls, clock };
}

const input = (id: string) => ({ id, persistence: null as never });

describe('supervisor machine', () => {
  it('spawns, terminates and releases conversations, counting them', () => {
    const { actor, calls } = harness();
    actor.send({ type: 'conversation.spawn', id: 'A', origin: 'start', input: input('A') });
    actor.send({ type: 'conversation.spawn', id: 'B', origin: 'resume', input: input('B') });
    expect(actor.getSnapshot().context).toMatchObject({ resident: 2, spawned: 2 });
    actor.send({ type: 'conversation.terminate', id: 'A' });
    actor.send({ type: 'conversation.exited', id: 'B' });
    expect(calls).toEqual(['spawn A start', 'spawn B resume', 'stop A', 'release B']);
    expect(actor.getSnapshot().context.resident).toBe(0);
  });

  it('counts a dormant conversation activated on first use as spawned and resident', () => {
    const { actor, calls } = harness();
    actor.send({ type: 'conversation.activated', id: 'A' });
    expect(actor.getSnapshot().context).toMatchObject({ resident: 1, spawned: 1 });
    // Its actor already exists: nothing is spawned for it.
    expect(calls).toEqual([]);
    actor.send({ type: 'conversation.exited', id: 'A' });
    expect(actor.getSnapshot().context.resident).toBe(0);
    expect(calls).toEqual(['release A']);
  });

  it('restarts a failed conversation after an exponential backoff, within its budget', () => {
    const { actor, calls, clock } = harness();
    actor.send({ type: 'conversation.spawn', id: 'A', origin: 'start', input: input('A') });
    actor.send({ type: 'conversation.failed', id: 'A', error: new Error('boom'), at: 0 });
    clock.increment(99);
    expect(calls).not.toContain('restart A');
    clock.increment(1);
    expect(calls.filter((c) => c === 'restart A')).toHaveLength(1);
    actor.send({ type: 'conversation.failed', id: 'A', error: new Error('boom'), at: 200 });
    clock.increment(149); // the 2nd backoff is 200 ms, capped at 150
    expect(calls.filter((c) => c === 'restart A')).toHaveLength(1);
    clock.increment(1);
    expect(calls.filter((c) => c === 'restart A')).toHaveLength(2);
    // A third failure inside the window exhausts the budget.
    actor.send({ type: 'conversation.failed', id: 'A', error: new Error('boom'), at: 500 });
    clock.increment(1_000);
    expect(calls.filter((c) => c === 'restart A')).toHaveLength(2);
    expect(calls).toContain('give-up A');
    expect(actor.getSnapshot().context.givenUp).toBe(1);
  });

  it('renews the budget after the window', () => {
    const { actor, calls, clock } = harness();
    for (const at of [0, 2_000, 4_000, 6_000]) {
      actor.send({ type: 'conversation.failed', id: 'A', error: new Error('x'), at });
      clock.increment(200);
    }
    expect(calls.filter((c) => c === 'restart A')).toHaveLength(4);
    expect(calls).not.toContain('give-up A');
  });

  it('drains on shutdown, refuses new conversations, and stops', async () => {
    let release!: () => void;
    const { actor, calls } = harness(() => new Promise<void>((r) => (release = r)));
    actor.send({ type: 'shutdown' });
    expect(actor.getSnapshot().value).toBe('draining');
    actor.send({ type: 'conversation.spawn', id: 'late', origin: 'start', input: input('late') });
    expect(calls).not.toContain('spawn late start');
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(actor.getSnapshot().status).toBe('done');
  });
});
