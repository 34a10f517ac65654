/**
 * The Agents SDK `Session` contract, for the Colloquy-backed session: ordering, limits,
 * pop/clear, concurrent appends, copies, durability, restart, and `run(agent, input, { session })`
 * with the real `@openai/agents` runner. Run against the memory store and the file store.
 */
import { readFile } from 'node:fs/promises';
import { Agent, MemorySession, Runner, type AgentInputItem } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { FileStore, SessionLockedError, SessionNotFoundError, type Runtime } from '../../../src/index.js';
import { CLEARED_SUMMARY, colloquySession, UnsupportedValueError } from '../../../src/clients/openai-agents/index.js';
import { runtime, tempHome } from '../../runtime/helpers.js';
import { say, sdkModel } from '../../agents/openai-agents/sdk-model.js';

const user = (text: string): AgentInputItem => ({ role: 'user', content: text });
const assistant = (text: string): AgentInputItem => ({
  id: `msg_${text.length}`,
  type: 'message',
  role: 'assistant',
  status: 'completed',
  content: [{ type: 'output_text', text }],
});
const call: AgentInputItem = { type: 'function_call', callId: 'call_1', name: 'lookup', arguments: '{"q":"weather"}', status: 'completed' };
/** A result with bytes, an explicit undefined and numbers JSON cannot hold. */
const result: AgentInputItem = {
  type: 'function_call_result',
  callId: 'call_1',
  name: 'lookup',
  status: 'completed',
  output: { type: 'image', image: { data: new Uint8Array([0, 1, 2, 250]), mediaType: 'image/png' } },
  providerData: { nested: { gone: undefined, list: [1, undefined, null], nan: Number.NaN, inf: -Infinity, zero: -0 }, $colloquy: 'kept' },
};
const reasoning: AgentInputItem = { type: 'reasoning', id: 'rs_1', content: [{ type: 'input_text', text: 'checking' }], providerData: { encrypted: 'xyz' } };

const stores = [
  { kind: 'memory store', make: async (): Promise<Runtime> => runtime() },
  { kind: 'file store', make: async (): Promise<Runtime> => runtime({ home: await tempHome() }) },
] as const;

describe.each(stores)('the Colloquy session contract ($kind)', ({ make }) => {
  it('starts empty, without creating a conversation until asked for its id or written to', async () => {
    const rt = await make();
    const session = colloquySession(rt, { name: 'empty' });
    expect(await session.getItems()).toEqual([]);
    expect(await session.popItem()).toBeUndefined();
    await session.clearSession();
    expect((await rt.list()).items).toHaveLength(0);
    const id = await session.getSessionId();
    expect(id).toBe(session.conversationId);
    expect((await rt.list()).items.map((s) => [s.id, s.name])).toEqual([[id, 'empty']]);
    expect(await session.getItems()).toEqual([]);
  });

  it('returns items exactly as added, in order', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    await session.addItems([user('hi'), assistant('hello')]);
    await session.addItems([]);
    await session.addItems([call, result, reasoning]);
    expect(await session.getItems()).toStrictEqual([user('hi'), assistant('hello'), call, result, reasoning]);
  });

  it('getItems(limit) gives the latest items, oldest first', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    const items = [user('a'), assistant('b'), user('c'), assistant('d')];
    await session.addItems(items.slice(0, 3));
    await session.addItems(items.slice(3));
    expect(await session.getItems(0)).toEqual([]);
    expect(await session.getItems(-1)).toEqual([]);
    expect(await session.getItems(1)).toEqual([assistant('d')]);
    expect(await session.getItems(2)).toEqual([user('c'), assistant('d')]);
    expect(await session.getItems(3)).toEqual(items.slice(1));
    expect(await session.getItems(4)).toEqual(items);
    expect(await session.getItems(100)).toEqual(items);
    expect(await session.getItems(undefined)).toEqual(items);
  });

  it('matches MemorySession for the same operations', async () => {
    const rt = await make();
    const ours = colloquySession(rt);
    const reference = new MemorySession();
    const steps: [string, (s: typeof ours | MemorySession) => Promise<unknown>][] = [
      ['add 3', (s) => s.addItems([user('1'), assistant('2'), call])],
      ['pop', (s) => s.popItem()],
      ['add 2', (s) => s.addItems([result, user('3')])],
      ['limit 2', (s) => s.getItems(2)],
      ['pop', (s) => s.popItem()],
      ['pop', (s) => s.popItem()],
      ['all', (s) => s.getItems()],
      ['clear', (s) => s.clearSession()],
      ['pop empty', (s) => s.popItem()],
      ['add 1', (s) => s.addItems([reasoning])],
      ['all', (s) => s.getItems()],
    ];
    for (const [name, step] of steps) {
      const [a, b] = [await step(ours), await step(reference)];
      expect(a, name).toStrictEqual(b);
    }
  });

  it('popItem removes and returns the newest item, across turns, and the removal is recorded', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    expect(await session.popItem()).toBeUndefined();
    await session.addItems([user('q1'), assistant('a1')]);
    await session.addItems([call, result]);
    expect(await session.popItem()).toStrictEqual(result);
    expect(await session.getItems()).toStrictEqual([user('q1'), assistant('a1'), call]);
    expect(await session.popItem()).toStrictEqual(call);
    expect(await session.popItem()).toStrictEqual(assistant('a1'));
    expect(await session.getItems()).toStrictEqual([user('q1')]);
    await session.addItems([assistant('a2')]);
    expect(await session.getItems()).toStrictEqual([user('q1'), assistant('a2')]);
    expect(await session.popItem()).toStrictEqual(assistant('a2'));
    expect(await session.popItem()).toStrictEqual(user('q1'));
    expect(await session.popItem()).toBeUndefined();
    expect(await session.getItems()).toEqual([]);

    // Reopened from the log alone: the same.
    await session.addItems([user('again')]);
    await session.close();
    expect(await colloquySession(rt, { conversationId: session.conversationId }).getItems()).toStrictEqual([user('again')]);
    // The log keeps everything that was written.
    const read = await rt.read(session.conversationId);
    expect(read.turns.flatMap((t) => t.items.map((i) => i.type))).toContain('tool_call');
  });

  it('clearSession removes every item for the session; the log keeps them', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    await session.addItems([user('secret'), assistant('noted')]);
    await session.clearSession();
    expect(await session.getItems()).toEqual([]);
    expect(await session.popItem()).toBeUndefined();
    await session.addItems([user('fresh')]);
    expect(await session.getItems()).toStrictEqual([user('fresh')]);
    await session.close();
    expect(await colloquySession(rt, { conversationId: session.conversationId }).getItems()).toStrictEqual([user('fresh')]);
    const read = await rt.read(session.conversationId);
    const texts = read.turns.flatMap((t) => t.items.map((i) => ('text' in i ? i.text : '')));
    expect(texts).toEqual(['secret', 'noted', 'fresh']);
  });

  it('keeps each concurrent addItems call contiguous and in call order', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    const other = colloquySession(rt, { conversationId: await session.getSessionId() });
    const calls = Array.from({ length: 20 }, (_, c) => [user(`${c}.0`), assistant(`${c}.1`), user(`${c}.2`)]);
    await Promise.all(calls.map((items, c) => (c % 2 === 0 ? session : other).addItems(items)));
    expect(await session.getItems()).toEqual(calls.flat());
    expect(await other.getItems(3)).toEqual(calls[19]);
  });

  it('hands out copies: changing an item given or returned changes nothing stored', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    const given = structuredClone(assistant('original'));
    await session.addItems([given]);
    (given as { content: { text: string }[] }).content[0]!.text = 'changed after add';
    const [got] = await session.getItems();
    (got as { content: { text: string }[] }).content[0]!.text = 'changed after get';
    expect(await session.getItems()).toStrictEqual([assistant('original')]);
  });

  it('refuses values a log cannot keep, writing nothing', async () => {
    const rt = await make();
    const session = colloquySession(rt);
    await session.addItems([user('kept')]);
    const bad = { ...user('x'), providerData: { when: new Date(0) } } as AgentInputItem;
    await expect(session.addItems([user('ok'), bad])).rejects.toThrow(UnsupportedValueError);
    await expect(session.addItems([bad])).rejects.toThrow(/items\[0\]\.providerData\.when/);
    expect(await session.getItems()).toStrictEqual([user('kept')]);
  });

  it('records the items as readable Colloquy items', async () => {
    const rt = await make();
    const session = colloquySession(rt, { name: 'weather chat', metadata: { tenant: 'a' } });
    await session.addItems([user('weather?'), call, result, assistant('sunny')]);
    const read = await rt.read(session.conversationId);
    expect(read.name).toBe('weather chat');
    expect(read.meta.source).toBe('openai-agents');
    expect(read.turns).toHaveLength(1);
    expect(read.turns[0]).toMatchObject({ status: 'completed' });
    expect(read.turns[0]!.items).toEqual([
      { id: 'item_0', type: 'user_message', text: 'weather?' },
      { id: 'item_1', type: 'tool_call', name: 'lookup', arguments: { q: 'weather' }, output: '[image]', status: 'completed', call_id: 'call_1' },
      { id: 'item_2', type: 'agent_message', text: 'sunny' },
    ]);
    expect((await rt.list({ metadata: { tenant: 'a' } })).items.map((s) => s.id)).toEqual([session.conversationId]);
  });

  it('fails for a conversation id that does not exist', async () => {
    const rt = await make();
    const session = colloquySession(rt, { conversationId: '01J00000000000000000000000' });
    await expect(session.getItems()).rejects.toThrow(SessionNotFoundError);
    await expect(session.addItems([user('x')])).rejects.toThrow(SessionNotFoundError);
  });

  it('does not write a conversation that is resident in its runtime', async () => {
    const rt = await make();
    const convo = await rt.start();
    const session = colloquySession(rt, { conversationId: convo.id });
    await expect(session.addItems([user('x')])).rejects.toThrow(SessionLockedError);
    await convo.close();
    await session.addItems([user('now')]);
    expect(await session.getItems()).toStrictEqual([user('now')]);
  });

  it('shows a conversation Colloquy turns wrote, and Colloquy can go on from what the session wrote', async () => {
    const rt = await make();
    const convo = await rt.start();
    await convo.run('first question');
    await convo.close();
    const session = colloquySession(rt, { conversationId: convo.id });
    const items = await session.getItems();
    expect(items).toEqual([
      { role: 'user', content: 'first question' },
      { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: expect.stringContaining('first question') }] },
    ]);
    await session.addItems([user('second question'), assistant('an answer')]);
    expect(await session.popItem()).toStrictEqual(assistant('an answer'));
    await session.close();
    const resumed = await rt.resume(convo.id);
    expect(resumed.historyItems().map((i) => [i.type, 'text' in i ? i.text.slice(0, 15) : ''])).toEqual([
      ['user_message', 'first question'],
      ['agent_message', expect.any(String)],
      ['user_message', 'second question'],
    ]);
    const turn = await resumed.run('third');
    expect(turn.finalResponse).toContain('third');
  });
});

describe('the Colloquy session on the file store', () => {
  it('is durable when addItems resolves and survives a restart', async () => {
    const home = await tempHome();
    const first = runtime({ home });
    const session = colloquySession(first, { name: 'durable' });
    await session.addItems([user('q'), assistant('a')]);
    await session.addItems([call, result]);
    expect(await session.popItem()).toStrictEqual(result);
    await session.addItems([reasoning]);
    // On disk before anything else happens: the log holds the verbatim items.
    const store = first.store as FileStore;
    const log = await readFile(store.paths.log(session.conversationId, false), 'utf8');
    expect(log).toContain('"source":"openai-agents"');
    expect(log).toContain('rs_1');
    const expected = [user('q'), assistant('a'), call, reasoning];
    await first.shutdown();

    const second = runtime({ home });
    const reopened = colloquySession(second, { conversationId: session.conversationId });
    expect(await reopened.getItems()).toStrictEqual(expected);
    await reopened.clearSession();
    await second.shutdown();

    const third = runtime({ home });
    expect(await colloquySession(third, { conversationId: session.conversationId }).getItems()).toEqual([]);
    // A cleared conversation resumes from the clearing: Colloquy agents are told it was cleared.
    const convo = await third.resume(session.conversationId);
    expect(convo.historyItems()).toEqual([]);
    expect((await third.read(session.conversationId)).turns.length).toBe(4);
    expect(CLEARED_SUMMARY).toMatch(/cleared/);
  });

  it('holds the write lease: another writer of the same home is refused', async () => {
    const home = await tempHome();
    const one = runtime({ home });
    const session = colloquySession(one);
    await session.addItems([user('mine')]);
    const two = runtime({ home });
    await expect(colloquySession(two, { conversationId: session.conversationId }).addItems([user('theirs')])).rejects.toThrow(SessionLockedError);
    await expect(two.resume(session.conversationId)).rejects.toThrow(SessionLockedError);
    // Reading needs no lease.
    expect((await two.read(session.conversationId)).turns).toHaveLength(1);
    await session.close();
    const theirs = colloquySession(two, { conversationId: session.conversationId });
    await theirs.addItems([user('theirs')]);
    expect(await theirs.getItems()).toStrictEqual([user('mine'), user('theirs')]);
  });
});

describe('run(agent, input, { session }) with the Colloquy session', () => {
  const runner = new Runner({ tracingDisabled: true });

  it('keeps the history of runs, streamed or not, in the conversation', async () => {
    const home = await tempHome();
    const rt = runtime({ home });
    const model = sdkModel([say('Hello, Ada.')], [say('Your name is Ada.')], [say('Still Ada.')]);
    const agent = new Agent({ name: 'Assistant', instructions: 'Be brief.', model });
    const session = colloquySession(rt, { name: 'sdk run' });

    const first = await runner.run(agent, 'My name is Ada.', { session });
    expect(first.finalOutput).toBe('Hello, Ada.');
    const second = await runner.run(agent, 'What is my name?', { session, stream: true });
    for await (const _ of second) void _;
    await second.completed;
    expect(second.finalOutput).toBe('Your name is Ada.');
    // The second request carried the first run's history.
    expect(JSON.stringify(model.requests[1]!.input)).toContain('My name is Ada.');
    expect(JSON.stringify(model.requests[1]!.input)).toContain('Hello, Ada.');

    const items = await session.getItems();
    expect(items.map((i) => ('role' in i ? `${i.role}` : i.type))).toEqual(['user', 'assistant', 'user', 'assistant']);
    await rt.shutdown();

    // After a restart, a new runtime goes on with the same history.
    const again = runtime({ home });
    const reopened = colloquySession(again, { conversationId: session.conversationId });
    const third = await runner.run(agent, 'And now?', { session: reopened });
    expect(third.finalOutput).toBe('Still Ada.');
    expect(JSON.stringify(model.requests[2]!.input)).toContain('Your name is Ada.');
    const read = await again.read(session.conversationId);
    expect(read.turns.flatMap((t) => t.items).map((i) => [i.type, 'text' in i ? i.text : ''])).toEqual([
      ['user_message', 'My name is Ada.'],
      ['agent_message', 'Hello, Ada.'],
      ['user_message', 'What is my name?'],
      ['agent_message', 'Your name is Ada.'],
      ['user_message', 'And now?'],
      ['agent_message', 'Still Ada.'],
    ]);
  });
});
