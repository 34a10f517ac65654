import { describe, expect, it } from 'vitest';
import { createActor, fromCallback } from 'xstate';
import { conversationMachine, type ConversationInput } from '../../machines/conversation.machine.js';

const config = { model: 'local', cwd: '/tmp', approvalPolicy: 'on-request' as const };
const meta = { format: 1, id: 'C1', created_at: '2026-01-01T00:00:00.000Z', config };

describe('conversation context', () => {
  // XState copies the context on every assign; V8 copies objects of 20 or more keys in
  // dictionary mode, far more slowly. The context is kept at 17 keys or fewer.
  it('stays at 17 keys or fewer through a turn', () => {
    const sent: unknown[] = [];
    const persistence = createActor(fromCallback(({ receive }) => receive((e) => sent.push(e)))).start();
    const input: ConversationInput = { id: 'C1', persistence, create: { meta, seq: 0 } };
    const actor = createActor(conversationMachine, { input }).start();
    const sizes = [Object.keys(actor.getSnapshot().context).length];
    actor.send({ type: 'persist.ack', seq: 0 });
    actor.send({ type: 'user_input', items: [{ type: 'text', text: 'hi' }], submissionId: 'S1', itemId: 'item_0' });
    sizes.push(Object.keys(actor.getSnapshot().context).length);
    actor.send({ type: 'turn.item', phase: 'completed', item: { id: 'item_1', type: 'agent_message', text: 'hello' } });
    sizes.push(Object.keys(actor.getSnapshot().context).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(17);
    // The boot plan comes from the input: the first record sent is the session_meta.
    expect(JSON.stringify(sent[0])).toContain('session_meta');
  });
});
