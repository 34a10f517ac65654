import { describe, expect, it } from 'vitest';
import { abortMarkerText, type Agent, type AgentTurn, type ThreadItem } from '../../src/index.js';
import { next, runtime, tempHome } from './helpers.js';

/** An agent that starts a tool call and a command, then waits until it is interrupted. */
const hanging: Agent = async function* (turn: AgentTurn) {
  if (turn.number > 1) {
    yield { type: 'item.completed', item: { id: turn.newItemId(), type: 'agent_message', text: `saw ${turn.history.length} items` } };
    return;
  }
  yield { type: 'item.started', item: { id: turn.newItemId(), type: 'tool_call', name: 'search', arguments: { q: 'x' }, status: 'in_progress' } };
  yield { type: 'item.started', item: { id: turn.newItemId(), type: 'command_execution', command: 'sleep 60', aggregated_output: 'zz', status: 'in_progress' } };
  await new Promise((resolve) => turn.signal.addEventListener('abort', resolve, { once: true }));
};

describe('aborted turns', () => {
  it('give running calls an aborted end and record a marker the model sees next turn', async () => {
    const home = await tempHome();
    const rt = runtime({ home, agent: hanging });
    const convo = await rt.start();
    const started = next(convo, 'item.started', (e) => e.item.type === 'command_execution');
    const turn = convo.run('go');
    await started;
    await convo.interrupt();
    await expect(turn).rejects.toMatchObject({ reason: 'interrupted' });

    const items = [...convo.historyItems()];
    const byType = (type: ThreadItem['type']) => items.find((i) => i.type === type);
    expect(byType('tool_call')).toMatchObject({ status: 'failed', output: 'aborted' });
    expect(byType('command_execution')).toMatchObject({ status: 'failed', aggregated_output: 'zz\n(aborted)' });
    expect(items.at(-1)).toEqual({ id: expect.stringMatching(/^aborted_/), type: 'turn_aborted', reason: 'interrupted', text: abortMarkerText('interrupted') });
    expect(abortMarkerText('interrupted')).toMatch(/^<turn_aborted>.*<\/turn_aborted>$/);

    // The next turn sees them, and so does a resume.
    const after = await convo.run('again');
    expect(after.finalResponse).toBe(`saw ${items.length} items`);
    await rt.shutdown();
    const again = runtime({ home, agent: hanging });
    const resumed = await again.resume(convo.id);
    expect(resumed.historyItems().slice(0, items.length)).toEqual(items);
  });

  it('leave completed calls as they were', async () => {
    const agent: Agent = async function* (turn) {
      const id = turn.newItemId();
      yield { type: 'item.started', item: { id, type: 'tool_call', name: 'read', arguments: {}, status: 'in_progress' } };
      yield { type: 'item.completed', item: { id, type: 'tool_call', name: 'read', arguments: {}, status: 'completed', output: 'file' } };
      await new Promise((resolve) => turn.signal.addEventListener('abort', resolve, { once: true }));
    };
    const rt = runtime({ agent });
    const convo = await rt.start();
    const done = next(convo, 'item.completed', (e) => e.item.type === 'tool_call');
    const turn = convo.run('go');
    await done;
    await convo.interrupt();
    await expect(turn).rejects.toMatchObject({ reason: 'interrupted' });
    const calls = convo.historyItems().filter((i) => i.type === 'tool_call');
    expect(calls).toEqual([{ id: expect.any(String), type: 'tool_call', name: 'read', arguments: {}, status: 'completed', output: 'file' }]);
  });
});
