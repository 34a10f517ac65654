/**
 * The projection of Colloquy's events onto the exact `codex exec --experimental-json`
 * stream that `@openai/codex-sdk` parses.
 */
import { describe, expect, it } from 'vitest';
import { codexEvent, codexItem } from '../../src/cli/codex-events.js';
import type { ThreadEvent, ThreadItem, Usage } from '../../src/index.js';

const usage: Usage = { input_tokens: 10, cached_input_tokens: 4, output_tokens: 7, reasoning_output_tokens: 1 };

describe('codexItem', () => {
  it('drops user messages (Codex exec does not print them)', () => {
    expect(codexItem({ id: 'item_0', type: 'user_message', text: 'hi', images: ['/a.png'], submission_id: 's1' })).toBeNull();
  });

  it.each<ThreadItem>([
    { id: 'item_1', type: 'agent_message', text: 'hello' },
    { id: 'item_2', type: 'reasoning', text: 'thinking' },
    { id: 'item_3', type: 'web_search', query: 'colloquy' },
    { id: 'item_4', type: 'todo_list', items: [{ text: 'a', completed: true }, { text: 'b', completed: false }] },
    { id: 'item_5', type: 'error', message: 'warning' },
  ])('passes a $type item through unchanged', (item) => {
    expect(codexItem(item)).toEqual(item);
  });

  it('removes call_id from a command execution and keeps the rest', () => {
    const item: ThreadItem = {
      id: 'item_1',
      type: 'command_execution',
      command: 'ls',
      aggregated_output: 'a\n',
      exit_code: 0,
      status: 'completed',
      call_id: 'call_item_1',
    };
    expect(codexItem(item)).toEqual({ id: 'item_1', type: 'command_execution', command: 'ls', aggregated_output: 'a\n', exit_code: 0, status: 'completed' });
  });

  it('keeps "declined" for a command (Codex prints it for commands)', () => {
    const item: ThreadItem = { id: 'item_1', type: 'command_execution', command: 'rm -rf x', aggregated_output: '', status: 'declined', call_id: 'c' };
    expect(codexItem(item)).toEqual({ id: 'item_1', type: 'command_execution', command: 'rm -rf x', aggregated_output: '', status: 'declined' });
  });

  it('removes call_id from a file change and an MCP tool call', () => {
    const change: ThreadItem = { id: 'item_1', type: 'file_change', changes: [{ path: 'a.ts', kind: 'update' }], status: 'completed', call_id: 'c1' };
    expect(codexItem(change)).toEqual({ id: 'item_1', type: 'file_change', changes: [{ path: 'a.ts', kind: 'update' }], status: 'completed' });
    const mcp: ThreadItem = {
      id: 'item_2',
      type: 'mcp_tool_call',
      server: 's',
      tool: 't',
      arguments: { q: 1 },
      result: { content: [{ type: 'text', text: 'ok' }], structured_content: { ok: true } },
      status: 'completed',
      call_id: 'c2',
    };
    expect(codexItem(mcp)).toEqual({
      id: 'item_2',
      type: 'mcp_tool_call',
      server: 's',
      tool: 't',
      arguments: { q: 1 },
      result: { content: [{ type: 'text', text: 'ok' }], structured_content: { ok: true } },
      status: 'completed',
    });
  });

  it('prints a declined file change or MCP call as failed (their Codex statuses have no "declined")', () => {
    const change: ThreadItem = { id: 'item_1', type: 'file_change', changes: [{ path: 'a.ts', kind: 'add' }], status: 'declined', call_id: 'c1' };
    expect(codexItem(change)).toMatchObject({ type: 'file_change', status: 'failed' });
    const mcp: ThreadItem = { id: 'item_2', type: 'mcp_tool_call', server: 's', tool: 't', arguments: {}, status: 'declined', call_id: 'c2' };
    expect(codexItem(mcp)).toMatchObject({ type: 'mcp_tool_call', status: 'failed' });
    expect(codexItem({ ...mcp, status: 'in_progress' })).toMatchObject({ status: 'in_progress' });
  });

  it('maps a tool_call to an mcp_tool_call on server "local", its output as text content', () => {
    const item: ThreadItem = {
      id: 'item_3',
      type: 'tool_call',
      name: 'lookup',
      arguments: { key: 'k' },
      output: 'value',
      status: 'completed',
      call_id: 'call_item_3',
    };
    expect(codexItem(item)).toEqual({
      id: 'item_3',
      type: 'mcp_tool_call',
      server: 'local',
      tool: 'lookup',
      arguments: { key: 'k' },
      result: { content: [{ type: 'text', text: 'value' }], structured_content: null },
      status: 'completed',
    });
  });

  it('a tool_call without output has no result; in progress stays in progress; declined is failed', () => {
    const running: ThreadItem = { id: 'item_3', type: 'tool_call', name: 'lookup', arguments: {}, status: 'in_progress', call_id: 'c' };
    const projected = codexItem(running);
    expect(projected).toEqual({ id: 'item_3', type: 'mcp_tool_call', server: 'local', tool: 'lookup', arguments: {}, status: 'in_progress' });
    expect(projected).not.toHaveProperty('result');
    expect(codexItem({ ...running, status: 'declined' })).toMatchObject({ type: 'mcp_tool_call', status: 'failed' });
    expect(codexItem({ ...running, status: 'failed', output: 'bad' })).toMatchObject({
      status: 'failed',
      result: { content: [{ type: 'text', text: 'bad' }] },
    });
  });

  it('does not change the item it was given', () => {
    const item: ThreadItem = { id: 'item_1', type: 'command_execution', command: 'ls', aggregated_output: '', status: 'in_progress', call_id: 'c' };
    const copy = structuredClone(item);
    codexItem(item);
    expect(item).toEqual(copy);
  });
});

describe('codexEvent', () => {
  it('thread.started keeps only thread_id', () => {
    expect(codexEvent({ type: 'thread.started', thread_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV' })).toEqual({
      type: 'thread.started',
      thread_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
    });
  });

  it('turn.started has no other keys', () => {
    const line = codexEvent({ type: 'turn.started', turn_id: 't1', kind: 'regular' });
    expect(line).toEqual({ type: 'turn.started' });
    expect(Object.keys(line ?? {})).toEqual(['type']);
  });

  it.each(['item.started', 'item.updated', 'item.completed'] as const)('%s carries the projected item and no turn_id', (type) => {
    const event = {
      type,
      turn_id: 't1',
      item: { id: 'item_1', type: 'command_execution', command: 'ls', aggregated_output: '', status: 'in_progress', call_id: 'c' },
    } as ThreadEvent;
    expect(codexEvent(event)).toEqual({
      type,
      item: { id: 'item_1', type: 'command_execution', command: 'ls', aggregated_output: '', status: 'in_progress' },
    });
  });

  it('an item event for a user message is not printed', () => {
    expect(codexEvent({ type: 'item.completed', turn_id: 't1', item: { id: 'item_0', type: 'user_message', text: 'hi' } })).toBeNull();
    expect(codexEvent({ type: 'item.started', turn_id: 't1', item: { id: 'item_0', type: 'user_message', text: 'hi' } })).toBeNull();
  });

  it('an item event for a tool_call prints an mcp_tool_call', () => {
    const line = codexEvent({ type: 'item.completed', turn_id: 't1', item: { id: 'item_2', type: 'tool_call', name: 'x', arguments: {}, output: 'o', status: 'completed' } });
    expect(line).toMatchObject({ type: 'item.completed', item: { type: 'mcp_tool_call', server: 'local', tool: 'x' } });
  });

  it('turn.completed carries the cumulative usage only (no turn_id, no turn_usage)', () => {
    const turnUsage: Usage = { input_tokens: 1, cached_input_tokens: 0, output_tokens: 2, reasoning_output_tokens: 0 };
    expect(codexEvent({ type: 'turn.completed', turn_id: 't1', usage, turn_usage: turnUsage })).toEqual({ type: 'turn.completed', usage });
  });

  it('turn.failed carries only the error message (no code, no turn_id)', () => {
    expect(codexEvent({ type: 'turn.failed', turn_id: 't1', error: { message: 'boom', code: 'scripted_failure' } })).toEqual({
      type: 'turn.failed',
      error: { message: 'boom' },
    });
  });

  it('error carries its message', () => {
    expect(codexEvent({ type: 'error', message: 'stream broke' })).toEqual({ type: 'error', message: 'stream broke' });
  });

  it.each<ThreadEvent>([
    { type: 'turn.aborted', turn_id: 't1', reason: 'interrupted' },
    { type: 'approval.requested', turn_id: 't1', callId: 'c', item: { id: 'item_1', type: 'command_execution', command: 'ls', aggregated_output: '', status: 'in_progress' } },
    { type: 'approval.resolved', turn_id: 't1', callId: 'c', decision: 'denied' },
    { type: 'input.queued', submission_id: 's', mode: 'queue', text: 'later' },
    { type: 'context.compacted', turn_id: 't1', kept_from_seq: 3 },
    { type: 'thread.name_updated', name: 'n' },
    { type: 'thread.rolled_back', turns: 1 },
    { type: 'thread.closed' },
  ])('$type is not part of the Codex stream (null)', (event) => {
    expect(codexEvent(event)).toBeNull();
  });

  it('an event type it does not know is null', () => {
    expect(codexEvent({ type: 'something.new' } as unknown as ThreadEvent)).toBeNull();
  });
});
