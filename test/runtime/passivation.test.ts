/**
 * Idle passivation and transparent rehydration: a conversation with no working turn and no
 * subscriber for `passivateAfterMs` is stopped and its memory released; its handle stays
 * valid, and the next op, `state` read, `subscribe` or `resume` brings it back from its log,
 * pending approvals and queued input included. Time is XState's simulated clock.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, type InspectionEvent } from 'xstate';
import { localAgent, SessionLockedError, type Conversation, type RuntimeEvent, type ThreadEvent } from '../../src/index.js';
import { expectNoEscapedErrors } from '../support/no-escapes.js';
import { commandTurn, next, runtime, tempHome } from './helpers.js';

expectNoEscapedErrors();

const AFTER = 60_000;
/** The supervisor looks for idle conversations every quarter of the timeout: one is passivated within this much past it. */
const SWEEP = AFTER / 4;

/** Let queued commits and activations run (the store and the log read are asynchronous). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
};

/** A runtime on a simulated clock passivating after `AFTER` ms, with what it tells about conversations. */
function passivating(options: Parameters<typeof runtime>[0] = {}) {
  const clock = new SimulatedClock();
  const lifecycle: RuntimeEvent[] = [];
  const conversationActors: string[] = [];
  const rt = runtime({
    clock,
    passivateAfterMs: AFTER,
    inspect: (e: InspectionEvent) => {
      const id = (e.actorRef as { id?: string }).id ?? '';
      if (e.type === '@xstate.actor' && id.startsWith('conversation:')) conversationActors.push(id);
    },
    ...options,
  });
  rt.subscribe((e) => lifecycle.push(e));
  const passivations = (id: string) => lifecycle.filter((e) => e.type === 'conversation.passivated' && e.conversationId === id).length;
  const activations = (id: string) => lifecycle.filter((e) => e.type === 'conversation.activated' && e.conversationId === id).length;
  return { rt, clock, lifecycle, passivations, activations, created: (id: string) => conversationActors.filter((a) => a === `conversation:${id}`).length };
}

/** Advance the clock past the passivation timeout and let what follows settle. */
async function idleFor(clock: SimulatedClock, ms: number): Promise<void> {
  clock.increment(ms);
  await settle();
}

const scripted = () => localAgent({ script: { turns: [commandTurn('make deploy')], repeat: 'last' } });

/** Run a turn that stops at an approval; resolves with the pending call id once it is durable. */
async function awaitingApproval(convo: Conversation): Promise<{ callId: string; result: Promise<unknown> }> {
  const requested = next(convo, 'approval.requested');
  const result = convo.run('deploy it');
  result.catch(() => {});
  const { callId } = await requested;
  await settle();
  return { callId, result };
}

describe('idle passivation', () => {
  it('stops an idle conversation after passivateAfterMs and brings it back, with its history, on the next op', async () => {
    const { rt, clock, passivations, activations, created } = passivating();
    const convo = await rt.start({ name: 'sleepy' });
    await convo.run('remember the lighthouse');
    expect(convo.residency).toBe('active');
    await idleFor(clock, AFTER - 1);
    expect(convo.residency).toBe('active');
    await idleFor(clock, SWEEP);
    expect(convo.residency).toBe('passivated');
    expect(passivations(convo.id)).toBe(1);
    expect(rt.resident).toBe(0);
    expect(rt.get(convo.id)).toBe(convo);
    // What a passivated conversation still tells without waking (for listings and consoles).
    expect(convo.info()).toMatchObject({ state: 'idle', residency: 'passivated', name: 'sleepy', pendingApprovals: [] });
    expect(() => convo.historyItems()).toThrow(/passivated/);
    const again = await convo.run('and now?');
    expect(again.finalResponse).toContain('Before that you said: "remember the lighthouse"');
    expect(again.finalResponse).toContain('Turn 2');
    expect(convo.residency).toBe('active');
    expect(activations(convo.id)).toBe(2);
    expect(created(convo.id)).toBe(2);
  });

  it('comes back with its pending approval, and the approval completes the turn', async () => {
    const { rt, clock, passivations } = passivating({ agent: scripted() });
    const convo = await rt.start({ approvalPolicy: 'on-request' });
    const { callId, result } = await awaitingApproval(convo);
    expect(convo.state).toBe('processing');
    await idleFor(clock, AFTER);
    expect(convo.residency).toBe('passivated');
    expect(passivations(convo.id)).toBe(1);
    // Still waiting, as its log says.
    expect(convo.pendingApprovals.map((p) => p.callId)).toEqual([callId]);
    expect(convo.info().state).toBe('processing');
    // The caller that started the turn was told nothing final: the turn is still open.
    let settled = false;
    void result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await settle();
    expect(settled).toBe(false);
    const events: ThreadEvent[] = [];
    await convo.approve(callId, 'approved');
    convo.subscribe((e) => events.push(e));
    await new Promise<void>((resolve) => {
      const stop = convo.subscribe((e) => {
        if (e.type === 'turn.completed') {
          stop();
          resolve();
        }
      });
    });
    const read = await rt.read(convo.id);
    expect(read.turns).toHaveLength(1);
    expect(read.turns[0]).toMatchObject({ status: 'completed' });
    expect(read.turns[0]!.items.map((i) => i.type)).toEqual(['user_message', 'command_execution', 'agent_message']);
    expect(read.pending.approvals).toEqual([]);
  });

  it('comes back with input queued behind the waiting turn, and runs it once, after that turn', async () => {
    const { rt, clock } = passivating({ agent: scripted() });
    const convo = await rt.start({ approvalPolicy: 'on-request' });
    const { callId } = await awaitingApproval(convo);
    const queued = convo.run('and then tidy up', { mode: 'queue' });
    queued.catch(() => {});
    await settle();
    expect(convo.info().queued).toBe(1);
    await idleFor(clock, AFTER);
    expect(convo.residency).toBe('passivated');
    expect(convo.info().queued).toBe(1);
    // The queued turn needs its approval too: answer whatever is asked.
    let completed = 0;
    const both = new Promise<void>((resolve) => {
      const stop = convo.subscribe((e) => {
        if (e.type === 'approval.requested') void convo.approve(e.callId, 'approved');
        if (e.type === 'turn.completed' && ++completed === 2) {
          stop();
          resolve();
        }
      });
    });
    await convo.approve(callId, 'approved');
    await both;
    expect(await queued).toMatchObject({ finalResponse: 'done' });
    const read = await rt.read(convo.id);
    const users = read.turns.flatMap((t) => t.items).filter((i) => i.type === 'user_message');
    expect(users.map((u) => (u.type === 'user_message' ? u.text : ''))).toEqual(['deploy it', 'and then tidy up']);
    expect(read.turns.map((t) => t.status)).toEqual(['completed', 'completed']);
    expect(read.pending.input).toEqual([]);
  });

  it('is not passivated while someone subscribes; a subscribe brings a passivated one back', async () => {
    const { rt, clock, passivations } = passivating();
    const convo = await rt.start();
    await convo.run('one');
    const events: ThreadEvent[] = [];
    const stop = convo.subscribe((e) => events.push(e));
    await idleFor(clock, AFTER * 3);
    expect(convo.residency).toBe('active');
    expect(passivations(convo.id)).toBe(0);
    stop();
    // Unsubscribing is a use: the timer starts again from there.
    await idleFor(clock, AFTER - 1);
    expect(convo.residency).toBe('active');
    await idleFor(clock, SWEEP);
    expect(convo.residency).toBe('passivated');
    const later: ThreadEvent[] = [];
    convo.subscribe((e) => later.push(e));
    await settle();
    expect(convo.residency).toBe('active');
    expect(later[0]).toMatchObject({ type: 'thread.started', thread_id: convo.id, turns: 1 });
    await convo.run('two');
    expect(later.filter((e) => e.type === 'thread.started')).toHaveLength(1);
    expect(later.at(-1)?.type).toBe('turn.completed');
  });

  it('a state read brings a passivated conversation back (its state meanwhile is the one it slept in)', async () => {
    const { rt, clock, activations } = passivating();
    const convo = await rt.start();
    await convo.run('one');
    await idleFor(clock, AFTER);
    expect(convo.residency).toBe('passivated');
    expect(convo.state).toBe('idle');
    await settle();
    expect(convo.residency).toBe('active');
    expect(activations(convo.id)).toBe(2);
  });

  it('resume of a passivated conversation returns the same handle, active', async () => {
    const { rt, clock } = passivating();
    const convo = await rt.start();
    await convo.run('one');
    await idleFor(clock, AFTER);
    const resumed = await rt.resume(convo.id);
    expect(resumed).toBe(convo);
    expect(resumed.residency).toBe('active');
    expect(resumed.historyItems().map((i) => i.type)).toEqual(['user_message', 'agent_message']);
  });

  it('never passivates a working turn, and never with passivateAfterMs 0', async () => {
    const slow = localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms: 300 }, { type: 'message', text: 'slow' }] }], repeat: 'last' } });
    const { rt, clock } = passivating({ agent: slow });
    const convo = await rt.start();
    const started = next(convo, 'turn.started');
    const running = convo.run('work');
    await started;
    await idleFor(clock, AFTER * 2);
    expect(convo.residency).toBe('active');
    await running;
    const off = passivating({ passivateAfterMs: 0 });
    const other = await off.rt.start();
    await other.run('hi');
    await idleFor(off.clock, AFTER * 100);
    expect(other.residency).toBe('active');
  });

  it('an op submitted to a passivated conversation is checked against the state it slept in', async () => {
    const { rt, clock } = passivating();
    const convo = await rt.start();
    await convo.run('one');
    await idleFor(clock, AFTER);
    expect(() => convo.submit({ type: 'rollback', turns: 5 })).toThrow(/only 1 turn can be rolled back/);
    expect(() => convo.submit({ type: 'approval', callId: 'nope', decision: 'approved' })).toThrow(/no approval is pending/);
    // Refused ops change nothing, not even where it lives.
    expect(convo.residency).toBe('passivated');
    await convo.setName('named while asleep');
    expect(convo.name).toBe('named while asleep');
    expect((await rt.read(convo.id)).name).toBe('named while asleep');
  });

  it('shuts down cleanly while a passivated conversation is being brought back', async () => {
    const { rt, clock } = passivating();
    const convo = await rt.start();
    await convo.run('one');
    await idleFor(clock, AFTER);
    expect(convo.residency).toBe('passivated');
    const late = convo.run('two');
    late.catch(() => {});
    await rt.shutdown();
    expect(convo.state).toBe('closed');
    await expect(late).rejects.toThrow();
  });

  it('gives up the lease while passivated: another process may take the conversation, and this one is then told', async () => {
    const home = await tempHome();
    const { rt, clock } = passivating({ home });
    const convo = await rt.start();
    await convo.run('one');
    await idleFor(clock, AFTER);
    expect(convo.residency).toBe('passivated');
    await settle();
    const other = runtime({ home });
    const theirs = await other.resume(convo.id);
    await theirs.run('two');
    await expect(convo.run('three')).rejects.toThrow(SessionLockedError);
    expect(convo.residency).toBe('passivated');
    await other.shutdown();
    expect((await convo.run('four')).finalResponse).toContain('Turn 3');
  });
});
