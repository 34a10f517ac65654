import { describe, expect, it } from 'vitest';
import type { PromptItem } from '../../src/agents/model/client.js';
import { ABORTED_OUTPUT, historyPrompt, normalizePrompt, SUMMARY_PREFIX } from '../../src/agents/model/prompt.js';
import type { ThreadItem } from '../../src/index.js';

const fc = (callId: string): PromptItem => ({ type: 'function_call', callId, name: 'f', arguments: '{}' });
const out = (callId: string, output = 'ok'): PromptItem => ({ type: 'function_call_output', callId, output });
const user = (text: string): PromptItem => ({ type: 'message', role: 'user', text });

describe('prompt', () => {
  it('maps history items to messages, calls and outputs', () => {
    const history: ThreadItem[] = [
      { id: 'item_0', type: 'user_message', text: 'hi', images: ['/tmp/a.png'] },
      { id: 'item_1', type: 'reasoning', text: 'thinking' },
      { id: 'item_2', type: 'command_execution', command: 'ls', aggregated_output: 'a\n', exit_code: 0, status: 'completed', call_id: 'c1' },
      { id: 'item_3', type: 'tool_call', name: 'search', arguments: { q: 'x' }, output: 'found', status: 'completed' },
      { id: 'item_4', type: 'command_execution', command: 'rm x', aggregated_output: '', status: 'declined', call_id: 'c2' },
      { id: 'item_5', type: 'agent_message', text: 'done' },
      { id: 'item_6', type: 'turn_aborted', reason: 'interrupted', text: '<turn_aborted>x</turn_aborted>' },
      { id: 'item_7', type: 'todo_list', items: [] },
    ];
    expect(historyPrompt(history, 'before')).toEqual([
      { type: 'message', role: 'user', text: `${SUMMARY_PREFIX}before` },
      { type: 'message', role: 'user', text: 'hi', images: ['/tmp/a.png'] },
      { type: 'function_call', callId: 'c1', name: 'shell', arguments: '{"command":"ls"}' },
      { type: 'function_call_output', callId: 'c1', output: 'Exit code: 0\nOutput:\na\n' },
      { type: 'function_call', callId: 'call_item_3', name: 'search', arguments: '{"q":"x"}' },
      { type: 'function_call_output', callId: 'call_item_3', output: 'found' },
      { type: 'function_call', callId: 'c2', name: 'shell', arguments: '{"command":"rm x"}' },
      { type: 'function_call_output', callId: 'c2', output: 'The user declined this call; it did not run.' },
      { type: 'message', role: 'assistant', text: 'done' },
      { type: 'message', role: 'user', text: '<turn_aborted>x</turn_aborted>' },
    ]);
  });

  it('normalises: missing outputs become aborted, orphan and repeated outputs are dropped', () => {
    expect(normalizePrompt([user('a'), fc('1'), fc('2'), out('2'), user('b')])).toEqual([
      user('a'),
      fc('1'),
      fc('2'),
      out('2'),
      out('1', ABORTED_OUTPUT),
      user('b'),
    ]);
    expect(normalizePrompt([out('x'), user('a'), fc('1'), out('1'), out('1', 'again')])).toEqual([user('a'), fc('1'), out('1')]);
    expect(normalizePrompt([fc('1')])).toEqual([fc('1'), out('1', ABORTED_OUTPUT)]);
    // An output before its call is an orphan; the call then gets an aborted output.
    expect(normalizePrompt([out('1'), fc('1')])).toEqual([fc('1'), out('1', ABORTED_OUTPUT)]);
    expect(normalizePrompt([fc('1'), out('1'), fc('1'), out('1')])).toEqual([fc('1'), out('1')]);
  });
});
