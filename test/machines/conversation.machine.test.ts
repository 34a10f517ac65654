import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createActor, fromCallback, type AnyActorLogic } from 'xstate';
import { conversationMachine, statusOf, type ConversationInput, type RestoredConversation } from '../../machines/conversation.machine.js';
import { declaredStates, declaredTransitions, explore, isolated } from './model.js';

const persistence = createActor(fromCallback(() => {})).start();
const config = { model: 'local', cwd: '/tmp', approvalPolicy: 'on-request' as const };
const meta = { format: 1, id: 'C1', created_at: '2026-01-01T00:00:00.000Z', config };
const usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 1, reasoning_output_tokens: 0 };
const cmd = (id: string) => ({ id, type: 'command_execution' as const, command: 'ls', aggregated_output: '', status: 'in_progress' as const });
const base: RestoredConversation = {
  nextSeq: 10,
  config,
  name: null,
  turns: 2,
  historyTurns: 2,
  usage,
  sessionApprovals: [],
  queue: [],
  openTurn: null,
  failed: null,
};
const text = (t: string) => [{ type: 'text' as const, text: t }];

const inputs: ConversationInput[] = [
  { id: 'C1', persistence, create: { meta, seq: 0 }},
  { id: 'C1', persistence, restore: { ...base, openTurn: { id: 'T', number: 2, startSeq: 8, kind: 'regular', input: text('a'), submissionId: 'T', pending: [{ callId: 'c0', item: cmd('item_1') }], items: [] } }},
  { id: 'C1', persistence, restore: { ...base, openTurn: { id: 'T', number: 2, startSeq: 8, kind: 'regular', input: text('a'), submissionId: 'T', pending: [], items: [] } } },
  { id: 'C1', persistence, restore: { ...base, failed: { turnId: 'T', kind: 'regular', input: text('a'), error: { message: 'boom' } } }},
  { id: 'C1', persistence, restore: { ...base, queue: [{ submissionId: 'Q', items: text('q'), itemId: 'item_7' }] } },
];

/** Every op and internal event worth trying in a state (with payloads). */
function events(state: any): any[] {
  if (state.status !== 'active') return [];
  const c = state.context;
  const sub = `s${c.seq}`;
  const out: any[] = [];
  if (c.queue.length < 2) {
    for (const mode of [undefined, 'steer', 'interrupt', 'reject']) {
      out.push({ type: 'user_input', items: text('hi'), ...(mode ? { mode } : {}), submissionId: sub, itemId: `item_${c.seq}` });
    }
  }
  out.push(
    { type: 'interrupt', submissionId: sub },
    { type: 'compact', submissionId: sub },
    { type: 'rollback', turns: 1, submissionId: sub },
    { type: 'rollback', turns: 9, submissionId: sub },
    { type: 'set_name', name: 'n', submissionId: sub },
    { type: 'override_turn_context', model: 'm2', submissionId: sub },
    { type: 'retry', submissionId: sub, itemId: `item_${c.seq}` },
    { type: 'reset', submissionId: sub },
    { type: 'shutdown', submissionId: sub },
    { type: 'persist.ack', seq: c.seq - 1 },
    { type: 'persist.failed', seq: c.durableSeq + 1, error: { message: 'ENOSPC', code: 'store_error' } },
    {
      type: 'records.append',
      submissionId: sub,
      expectedSeq: c.seq,
      drafts: [
        { type: 'event', payload: { type: 'turn.started', turn_id: `A${c.seq}`, kind: 'regular' } },
        { type: 'item', payload: { turn_id: `A${c.seq}`, item: { id: `item_${c.seq}`, type: 'user_message', text: 'from a session' } } },
        { type: 'event', payload: { type: 'turn.completed', turn_id: `A${c.seq}`, usage } },
      ],
      remember: true,
    },
    { type: 'records.append', submissionId: sub, expectedSeq: c.seq + 1, drafts: [{ type: 'rolled_back', payload: { turns: 1 } }] },
  );
  const pending = Object.keys(c.turn?.pending ?? {});
  for (const decision of ['approved', 'approved_for_session', 'denied', 'abort']) {
    out.push({ type: 'approval', callId: pending[0] ?? 'nope', decision, submissionId: sub });
  }
  // The turn child reports only while it runs (until its end is being committed).
  if (c.turn && !c.ending) {
    out.push(
      { type: 'turn.item', phase: 'started', item: { id: 'item_50', type: 'agent_message', text: '' } },
      { type: 'turn.item', phase: 'completed', item: { id: 'item_50', type: 'agent_message', text: 'ok' } },
      { type: 'turn.compacted', summary: 'sum', keptFromSeq: c.seq, keptTurns: 0, nextItem: 60 },
      { type: 'xstate.done.actor.turn', actorId: 'turn', output: { status: 'completed', usage, steered: [] } },
      { type: 'xstate.done.actor.turn', actorId: 'turn', output: { status: 'completed', usage, steered: [{ submissionId: 'S', items: text('s'), itemId: 'item_40' }] } },
      { type: 'xstate.done.actor.turn', actorId: 'turn', output: { status: 'aborted', reason: 'interrupted', usage, steered: [] } },
      { type: 'xstate.done.actor.turn', actorId: 'turn', output: { status: 'failed', error: { message: 'bad' }, usage, steered: [] } },
      { type: 'xstate.done.actor.turn', actorId: 'turn', output: { status: 'completed', usage, steered: [], compactNext: true } },
      {
        type: 'xstate.done.actor.turn',
        actorId: 'turn',
        output: { status: 'failed', error: { message: 'too long', code: 'context_window_exceeded' }, usage, steered: [], compactNext: true },
      },
      { type: 'turn.notice', notice: { type: 'rate_limits', snapshot: { tokens: { remaining: 10 } } } },
      { type: 'turn.notice', notice: { type: 'retrying', attempt: 2, delayMs: 250, message: 'rate limited' } },
      { type: 'xstate.error.actor.turn', actorId: 'turn', error: new Error('crash') },
    );
    if (pending.length < 2) out.push({ type: 'turn.approval', callId: `c${pending.length + 1}`, item: cmd('item_3') });
  }
  return out;
}

/** Abstract state: what the machine's behaviour depends on, with counters capped. */
const serializeState = (state: any): string => {
  const c = state.context;
  return JSON.stringify({
    value: state.value,
    status: state.status,
    turn: c.turn ? { kind: c.turn.kind, pending: Object.keys(c.turn.pending).length } : null,
    queue: Math.min(c.queue.length, 2),
    error: c.error ? [c.error.kind, c.error.retry !== null] : null,
    close: c.closeRequested,
    durable: c.durableSeq >= c.seq - 1,
    endDurable: c.durableSeq >= c.endSeq,
    ending: c.ending?.type ?? null,
    history: Math.min(c.historyTurns, 2),
    compactNext: c.compactNext,
    retry: c.error?.retry?.kind ?? null,
  });
};

const inert = conversationMachine.provide({ actors: { turn: fromCallback(() => {}) as unknown as AnyActorLogic as never } });

describe('conversation machine (model-based)', () => {
  const coverage = explore(inert, inert, inputs, { events, serializeState }, (before, event, after) => {
    // An op the machine does not take changes nothing.
    if ('submissionId' in event && !before.can(event)) {
      expect(after.value).toEqual(before.value);
      expect(after.context).toEqual(before.context);
    }
    // Acknowledgements never go backwards.
    expect(after.context.durableSeq).toBeGreaterThanOrEqual(before.context.durableSeq);
    expect(after.context.seq).toBeGreaterThanOrEqual(before.context.seq);
    // A turn end is announced only once durable: while one is pending, the state is
    // processing.committing (or error, when its records could not be written).
    if (after.context.ending) {
      expect(after.value === 'error' ? after.context.error?.kind : after.value).toEqual(after.value === 'error' ? 'store' : { processing: 'committing' });
    }
    if (before.status === 'done') expect(after.status).toBe('done');
    expect(['idle', 'active', 'processing', 'error', 'closed']).toContain(statusOf(after.value));
  });

  it('enters every state', () => {
    expect([...declaredStates(conversationMachine)].filter((s) => !coverage.entered.has(s))).toEqual([]);
  });

  it('fires every declared transition', () => {
    expect([...declaredTransitions(conversationMachine)].filter((t) => !coverage.fired.has(t))).toEqual([]);
    expect(coverage.vertices).toBeGreaterThan(20);
  });
});

describe('conversation machine (properties)', () => {
  const model = isolated(inert);
  const step = (snapshot: any, event: any) => model.transition(snapshot, event, undefined as never);
  const start = (input: ConversationInput) => model.getInitialSnapshot(undefined as never, input);

  /** The environment, played until the conversation rests: acks, turn ends, denied approvals, resets. */
  function settle(snapshot: any): any {
    for (let i = 0; i < 100; i++) {
      if (snapshot.status !== 'active') return snapshot;
      const c = snapshot.context;
      const status = statusOf(snapshot.value);
      if (c.durableSeq < c.seq - 1) snapshot = step(snapshot, { type: 'persist.ack', seq: c.seq - 1 });
      else if (c.turn && !c.ending && status === 'error') {
        // A turn interrupted by a store failure ends.
        const output = { status: 'aborted', reason: 'store_failure', usage, steered: [] };
        snapshot = step(snapshot, { type: 'xstate.done.actor.turn', actorId: 'turn', output });
      } else if (c.turn && !c.ending && Object.keys(c.turn.pending).length > 0) {
        const callId = Object.keys(c.turn.pending)[0];
        snapshot = step(snapshot, { type: 'approval', callId, decision: 'denied', submissionId: `d${i}` });
      } else if (c.turn && !c.ending) {
        snapshot = step(snapshot, { type: 'xstate.done.actor.turn', actorId: 'turn', output: { status: 'completed', usage, steered: [] } });
      } else if (status === 'error') snapshot = step(snapshot, { type: 'reset', submissionId: `r${i}` });
      else return snapshot;
    }
    return snapshot;
  }

  const op = fc.oneof(
    fc.record({ type: fc.constant('user_input'), mode: fc.constantFrom(undefined, 'steer', 'queue', 'interrupt', 'reject') }),
    fc.constantFrom(
      { type: 'interrupt' },
      { type: 'compact' },
      { type: 'rollback', turns: 1 },
      { type: 'rollback', turns: 50 },
      { type: 'set_name', name: 'x' },
      { type: 'override_turn_context', approvalPolicy: 'never' },
      { type: 'retry' },
      { type: 'reset' },
      { type: 'shutdown' },
      { type: 'approval', callId: 'c1', decision: 'approved' },
      { type: 'approval', callId: 'c1', decision: 'abort' },
      { type: 'approval', callId: 'nope', decision: 'denied' },
    ),
  );
  const env = fc.constantFrom(
    'ack',
    'item',
    'approval',
    'done.completed',
    'done.aborted',
    'done.failed',
    'crash',
    'fail-store',
  );
  const actionArb = fc.oneof({ arbitrary: op, weight: 2 }, { arbitrary: env, weight: 3 });

  function apply(snapshot: any, action: any, i: number): any {
    const c = snapshot.context;
    if (typeof action !== 'string') {
      const event = {
        ...action,
        ...(action.type === 'user_input' ? { items: text(`m${i}`), itemId: `item_${1000 + i}` } : {}),
        ...(action.type === 'retry' ? { itemId: `item_${1000 + i}` } : {}),
        submissionId: `s${i}`,
      };
      if (event.mode === undefined) delete event.mode;
      const enabled = snapshot.can(event);
      const next = step(snapshot, event);
      // An op the machine does not take changes nothing.
      if (!enabled) {
        expect(next.value).toEqual(snapshot.value);
        expect(next.context).toEqual(snapshot.context);
      }
      return next;
    }
    const live = c.turn && !c.ending;
    switch (action) {
      case 'ack':
        return step(snapshot, { type: 'persist.ack', seq: c.seq - 1 });
      case 'item':
        return live ? step(snapshot, { type: 'turn.item', phase: 'completed', item: { id: `item_${i}`, type: 'agent_message', text: 'a' } }) : snapshot;
      case 'approval':
        return live && !('c1' in c.turn.pending) ? step(snapshot, { type: 'turn.approval', callId: 'c1', item: cmd('item_2') }) : snapshot;
      case 'done.completed':
      case 'done.aborted':
      case 'done.failed': {
        if (!live) return snapshot;
        const status = action.slice(5);
        const output =
          status === 'completed'
            ? { status, usage, steered: [] }
            : status === 'aborted'
              ? { status, reason: 'interrupted', usage, steered: [] }
              : { status, error: { message: 'x' }, usage, steered: [] };
        return step(snapshot, { type: 'xstate.done.actor.turn', actorId: 'turn', output });
      }
      case 'crash':
        return live ? step(snapshot, { type: 'xstate.error.actor.turn', actorId: 'turn', error: new Error('x') }) : snapshot;
      case 'fail-store':
        return c.durableSeq < c.seq - 1 ? step(snapshot, { type: 'persist.failed', seq: c.durableSeq + 1, error: { message: 'EIO', code: 'store_error' } }) : snapshot;
    }
    return snapshot;
  }

  it('never wedges: from any reachable state the conversation comes back to idle or closed', () => {
    fc.assert(
      fc.property(fc.nat({ max: inputs.length - 1 }), fc.array(actionArb, { maxLength: 40 }), (which, actions) => {
        let snapshot = start(inputs[which] as ConversationInput);
        actions.forEach((action, i) => {
          snapshot = apply(snapshot, action, i);
          expect(snapshot.status).not.toBe('error');
        });
        const rest = settle(snapshot);
        expect(['idle', 'closed']).toContain(statusOf(rest.value));
        // At rest, everything recorded is acknowledged and nothing is pending.
        if (rest.status === 'active') {
          expect(rest.context.durableSeq).toBe(rest.context.seq - 1);
          expect(rest.context.turn).toBeNull();
          expect(rest.context.queue).toEqual([]);
        }
      }),
      { numRuns: 300 },
    );
  });
});
