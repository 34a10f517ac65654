import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColloquyError, localAgent, type Conversation } from '../../src/index.js';
import { commandTurn, runtime } from './helpers.js';

/** Valid ops and near-misses: wrong types, unknown fields, bad values, unknown call ids. */
const opArb = fc.oneof(
  fc.record({ type: fc.constant('user_input'), items: fc.constant([{ type: 'text', text: 'hi' }]), mode: fc.constantFrom('steer', 'queue', 'interrupt', 'reject') }),
  fc.constantFrom(
    { type: 'interrupt' },
    { type: 'compact' },
    { type: 'rollback', turns: 1 },
    { type: 'rollback', turns: 99 },
    { type: 'set_name', name: 'n' },
    { type: 'override_turn_context', approvalPolicy: 'never' },
    { type: 'retry' },
    { type: 'reset' },
    { type: 'approval', callId: 'nope', decision: 'approved' },
    // Malformed:
    { type: 'user_input', items: [] },
    { type: 'user_input', items: [{ type: 'text', text: 1 }] },
    { type: 'approval', callId: 'x', decision: 'perhaps' },
    { type: 'rollback', turns: -1 },
    { type: 'set_name', name: '' },
    { type: 'interrupt', now: true },
    { type: 'warp' },
    null,
    'interrupt',
  ),
  fc.constant('approve-pending'),
  fc.constant('wait'),
);

async function settle(convo: Conversation): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const state = convo.state;
    if (state === 'idle' || state === 'closed') return;
    if (state === 'error') {
      await convo.reset().catch(() => {});
    } else {
      for (const p of convo.pendingApprovals) await convo.approve(p.callId, 'denied').catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('conversation (properties, real runtime)', () => {
  it('random valid and invalid ops never wedge it, and a refused op changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
        const rt = runtime({ agent: localAgent({ script: { turns: [commandTurn(), { steps: [{ type: 'delay', ms: 5 }, { type: 'message', text: 'x' }] }, { steps: [{ type: 'fail', message: 'no' }] }], repeat: 'cycle' } }) });
        const convo = await rt.start();
        for (const op of ops) {
          if (op === 'wait') {
            await new Promise((r) => setTimeout(r, 2));
            continue;
          }
          if (op === 'approve-pending') {
            const pending = convo.pendingApprovals[0];
            if (pending) await convo.approve(pending.callId, 'approved').catch(() => {});
            continue;
          }
          const before = convo.actor?.getSnapshot();
          try {
            convo.submit(op);
          } catch (err) {
            expect(err).toBeInstanceOf(ColloquyError);
            expect(convo.actor?.getSnapshot()).toBe(before);
          }
        }
        await settle(convo);
        expect(['idle', 'closed']).toContain(convo.state);
        await rt.shutdown();
        expect(convo.state).toBe('closed');
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
