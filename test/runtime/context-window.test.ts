import { describe, expect, it } from 'vitest';
import { scriptedAgent, type ThreadEvent, type ThreadItem } from '../../src/index.js';
import { autoCompactLimit, contextWindow, planKeptHistory } from '../../src/runtime/context-window.js';
import { record, runtime } from './helpers.js';

const usage = (input: number, output = 10) => ({
  type: 'usage' as const,
  usage: { input_tokens: input, cached_input_tokens: 0, output_tokens: output, reasoning_output_tokens: 0 },
});
const say = (text: string) => ({ type: 'message' as const, text });
const user = (id: string, text: string): ThreadItem => ({ id, type: 'user_message', text });
const agent = (id: string, text: string): ThreadItem => ({ id, type: 'agent_message', text });

describe('context windows', () => {
  it('knows models by exact name or longest prefix, with overrides and a default', () => {
    expect(contextWindow('gpt-4o')).toBe(128_000);
    expect(contextWindow('gpt-4o-mini-2024-07-18')).toBe(128_000);
    expect(contextWindow('gpt-5-codex')).toBe(272_000);
    expect(contextWindow('llama3')).toBeNull();
    expect(contextWindow('llama3', { defaultWindow: 8192 })).toBe(8192);
    expect(contextWindow('llama3.1', { windows: { llama3: 8192, 'llama3.1': 131_072 } })).toBe(131_072);
  });

  it('compacts at the smaller of the configured limit and 90% of the window', () => {
    expect(autoCompactLimit('gpt-4o')).toBe(115_200);
    expect(autoCompactLimit('gpt-4o', { autoCompactTokenLimit: 50_000 })).toBe(50_000);
    expect(autoCompactLimit('gpt-4o', { autoCompactTokenLimit: 500_000 })).toBe(115_200);
    expect(autoCompactLimit('local')).toBeNull();
    expect(autoCompactLimit('local', { autoCompactTokenLimit: 1000 })).toBe(1000);
  });

  it('keeps the newest whole turns that fit the budget', () => {
    const history = [user('a', 'x'.repeat(400)), agent('b', 'y'.repeat(40)), user('c', 'z'.repeat(40)), agent('d', 'w'.repeat(40))];
    const bounds = [
      { startSeq: 3, index: 0 },
      { startSeq: 9, index: 2 },
    ];
    expect(planKeptHistory(history, bounds, 15, 25)).toEqual({ keptFromSeq: 9, keptTurns: 1 });
    expect(planKeptHistory(history, bounds, 15, 1000)).toEqual({ keptFromSeq: 3, keptTurns: 2 });
    expect(planKeptHistory(history, bounds, 15, 0)).toEqual({ keptFromSeq: 15, keptTurns: 0 });
    expect(planKeptHistory([], [], 4, 100)).toEqual({ keptFromSeq: 4, keptTurns: 0 });
  });
});

describe('automatic compaction', () => {
  it('compacts before the next turn once the last request filled the context to the limit', async () => {
    const rt = runtime({
      agent: scriptedAgent({ turns: [{ steps: [usage(400), say('small')] }, { steps: [usage(995), say('full')] }, { steps: [say('after')] }], repeat: 'last' }),
      context: { autoCompactTokenLimit: 1000, keepUserTokens: 0 },
    });
    const convo = await rt.start();
    const events = record(convo);
    await convo.run('one');
    await convo.run('two');
    expect(events.some((e) => e.type === 'context.compacted')).toBe(false);
    // 995 + 10 tokens reached the limit: the next input waits for a compaction.
    const third = await convo.run('three');
    expect(third.finalResponse).toBe('after');
    const order = events.map((e: ThreadEvent) => (e.type === 'turn.started' ? `started:${e.kind ?? 'regular'}` : e.type));
    const compactedAt = order.indexOf('context.compacted');
    expect(compactedAt).toBeGreaterThan(order.lastIndexOf('started:compact'));
    expect(order.lastIndexOf('started:regular')).toBeGreaterThan(compactedAt);
    expect(convo.historyItems().map((i) => i.type)).toEqual(['user_message', 'agent_message']);
    const log = await rt.read(convo.id);
    expect(log.turns.map((t) => t.kind)).toEqual(['regular', 'regular', 'compact', 'regular']);
    expect(convo.summary).toContain('one');
  });

  it('a turn refused for a full context compacts on retry and then runs the input again', async () => {
    const rt = runtime({
      agent: scriptedAgent({
        turns: [
          { steps: [say('first')] },
          { steps: [{ type: 'fail', message: 'context too long', code: 'context_window_exceeded' }] },
          { steps: [] },
          { steps: [say('fits now')] },
        ],
      }),
      context: { keepUserTokens: 0 },
    });
    const convo = await rt.start();
    await convo.run('hello');
    await expect(convo.run('a very long question')).rejects.toMatchObject({ code: 'context_window_exceeded' });
    expect(convo.state).toBe('error');
    const events = record(convo);
    const done = new Promise<void>((resolve) => convo.subscribe((e) => e.type === 'turn.completed' && e.turn_id !== undefined && !e.turn_id.startsWith('compact-') && resolve()));
    await convo.retry();
    await done;
    expect(events.map((e) => e.type)).toContain('context.compacted');
    const log = await rt.read(convo.id);
    expect(log.turns.map((t) => `${t.kind}:${t.status}`)).toEqual(['regular:completed', 'regular:failed', 'compact:completed', 'regular:completed']);
    expect(log.turns[3]?.items.map((i) => (i.type === 'user_message' || i.type === 'agent_message' ? i.text : i.type))).toEqual([
      'a very long question',
      'fits now',
    ]);
  });
});
