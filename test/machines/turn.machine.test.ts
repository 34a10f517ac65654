import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, setup, type AnyStateMachine, type InspectionEvent } from 'xstate';
import { turnMachine, type TurnInput } from '../../machines/turn.machine.js';
import { declaredStates, declaredTransitions, explore } from './model.js';

const item = (id: string) => ({ id, type: 'command_execution' as const, command: 'ls', aggregated_output: '', status: 'in_progress' as const });
const fresh: TurnInput = {
  conversationId: 'c',
  turnId: 't1',
  number: 1,
  kind: 'regular',
  input: [{ type: 'text', text: 'hi' }],
  approvalPolicy: 'on-request',
  sessionApprovals: [],
};
const restored: TurnInput = { ...fresh, pendingApprovals: [{ callId: 'c1', item: item('item_1') }] };

function events(state: any): any[] {
  if (state.status !== 'active') return [];
  const pending = Object.keys(state.context.pendingApprovals);
  const out: any[] = [
    { type: 'runner.item', phase: 'completed', item: { id: 'item_9', type: 'agent_message', text: 'x' } },
    { type: 'runner.usage', usage: { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_output_tokens: 0 } },
    { type: 'runner.compacted', summary: 's', keptFromSeq: 0, keptTurns: 0, nextItem: 0 },
    { type: 'runner.steer.taken', submissionIds: ['s1'] },
    { type: 'interrupt', reason: 'interrupted' },
    { type: 'runner.done' },
    { type: 'runner.done', compactNext: true },
    { type: 'runner.failed', error: { message: 'boom', code: 'x' } },
    { type: 'runner.failed', error: { message: 'too long', code: 'context_window_exceeded' }, compactNext: true },
    { type: 'runner.notice', notice: { type: 'rate_limits', snapshot: { requests: { remaining: 1 } } } },
    { type: 'runner.notice', notice: { type: 'retrying', attempt: 1, delayMs: 10, message: '429' } },
    { type: 'xstate.error.actor.runner', error: new Error('crash') },
    { type: 'approval.decide', callId: 'unknown', decision: 'approved' },
  ];
  if (pending.length < 2) out.push({ type: 'runner.approval', callId: pending.includes('c1') ? 'c2' : 'c1', item: item('item_2') });
  if (pending.length > 0) out.push({ type: 'runner.approval', callId: pending[0], item: item('item_1') });
  for (const callId of pending) {
    for (const decision of ['approved', 'approved_for_session', 'denied', 'abort']) out.push({ type: 'approval.decide', callId, decision });
  }
  if (state.context.steered.length === 0) {
    out.push({ type: 'steer', input: { submissionId: 's1', items: [{ type: 'text', text: 'more' }], itemId: 'item_5' } });
  }
  return out;
}

const serializeState = (state: any): string =>
  JSON.stringify({
    value: state.value,
    status: state.status,
    pending: Object.keys(state.context.pendingApprovals).sort(),
    steered: state.context.steered.length,
    outcome: state.context.status,
  });

const inert = turnMachine.provide({ actors: { agentRunner: fromCallback(() => {}) } });
/** For the traversal, which runs without a parent: reports go nowhere. */
const model = inert.provide({ actions: { reportApproval: () => {}, reportItem: () => {}, reportCompaction: () => {}, reportNotice: () => {} } });

/** The turn runs as a child of a minimal parent, as in a conversation (it reports with sendParent). */
function hosted(logic: AnyStateMachine, input: unknown, inspect: (e: InspectionEvent) => void) {
  const parent = setup({ actors: { turn: logic } }).createMachine({ invoke: { id: 'turn', src: 'turn', input: () => input as never } });
  const root = createActor(parent, { inspect });
  root.start();
  const child = root.getSnapshot().children.turn as any;
  return { actor: child, stop: () => root.stop() };
}

describe('turn machine (model-based)', () => {
  const coverage = explore(model, inert, [fresh, restored], { events, serializeState }, (before, event, after) => {
    // Invariants on every edge.
    if (before.status !== 'active') expect(after).toBe(before);
    if (event.type === 'approval.decide' && !(event.callId in before.context.pendingApprovals)) {
      expect(after.value).toEqual(before.value);
      expect(after.context.pendingApprovals).toEqual(before.context.pendingApprovals);
    }
    if (after.status === 'done') {
      expect(['completed', 'aborted', 'failed']).toContain(after.value);
      expect(after.output.status).toBe(after.value);
      // Only a turn the runner ended says the context is full.
      if (after.output.compactNext) expect(['runner.done', 'runner.failed']).toContain(event.type);
    }
  }, hosted);

  it('enters every state', () => {
    expect([...declaredStates(turnMachine)].filter((s) => !coverage.entered.has(s))).toEqual([]);
  });

  it('fires every declared transition', () => {
    expect([...declaredTransitions(turnMachine)].filter((t) => !coverage.fired.has(t))).toEqual([]);
    expect(coverage.edges).toBeGreaterThan(50);
  });

  it('restores pending approvals and waits for them', () => {
    const { actor, stop } = hosted(inert, restored, () => {});
    expect(actor.getSnapshot().value).toEqual({ running: 'awaitingApproval' });
    actor.send({ type: 'approval.decide', callId: 'c1', decision: 'approved' });
    expect(actor.getSnapshot().value).toEqual({ running: 'working' });
    stop();
  });

  it('keeps steered input the agent never took in its outcome', () => {
    const { actor, stop } = hosted(inert, fresh, () => {});
    actor.send({ type: 'steer', input: { submissionId: 's1', items: [{ type: 'text', text: 'a' }], itemId: 'i1' } });
    actor.send({ type: 'steer', input: { submissionId: 's2', items: [{ type: 'text', text: 'b' }], itemId: 'i2' } });
    actor.send({ type: 'runner.steer.taken', submissionIds: ['s1'] });
    actor.send({ type: 'runner.done' });
    expect(actor.getSnapshot().output).toMatchObject({ status: 'completed', steered: [{ submissionId: 's2' }] });
    stop();
  });

  it('aborts its signal when interrupted', () => {
    const { actor, stop } = hosted(inert, fresh, () => {});
    const signal: AbortSignal = actor.getSnapshot().context.controller.signal;
    actor.send({ type: 'interrupt', reason: 'replaced' });
    expect(signal.aborted).toBe(true);
    expect(actor.getSnapshot().output).toMatchObject({ status: 'aborted', reason: 'replaced' });
    stop();
  });
});
