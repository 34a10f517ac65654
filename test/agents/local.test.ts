import { describe, expect, it } from 'vitest';
import { InvalidScriptError, localAgent, parseScript, type AgentEvent, type AgentTurn, type ThreadItem } from '../../src/index.js';

let ids = 0;
function turn(overrides: Partial<AgentTurn> = {}): AgentTurn {
  return {
    conversationId: 'C',
    turnId: 'T',
    number: 1,
    kind: 'regular',
    input: [{ type: 'text', text: 'hello' }],
    history: [],
    summary: null,
    config: { model: 'local', cwd: '/tmp', approvalPolicy: 'on-request' },
    signal: new AbortController().signal,
    resumed: null,
    newItemId: () => `item_${ids++}`,
    requestApproval: async () => 'approved',
    takeSteeredInput: () => [],
    emit: () => {},
    ...overrides,
  };
}

/** Everything the agent reports, yielded or emitted out of band (the two are the same to a runner). */
async function events(agent: ReturnType<typeof localAgent>, t: AgentTurn): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  for await (const e of agent({ ...t, emit: (e) => out.push(e) })) out.push(e);
  return out;
}

const messages = (es: AgentEvent[]) => es.flatMap((e) => (e.type === 'item.completed' && e.item.type === 'agent_message' ? [e.item.text] : []));

describe('local agent', () => {
  it('answers from the input, the turn number and the previous user message', async () => {
    const history: ThreadItem[] = [
      { id: 'item_1', type: 'user_message', text: 'first' },
      { id: 'item_2', type: 'agent_message', text: 'reply' },
    ];
    const out = await events(localAgent(), turn({ number: 2, input: [{ type: 'text', text: 'second' }], history }));
    expect(messages(out)).toEqual(['Turn 2. You said: "second". Before that you said: "first".']);
    expect(out.find((e) => e.type === 'usage')).toBeDefined();
  });

  it('is deterministic', async () => {
    const a = messages(await events(localAgent(), turn()));
    const b = messages(await events(localAgent(), turn()));
    expect(a).toEqual(b);
  });

  it('runs !command through an approved command_execution item', async () => {
    const asked: ThreadItem[] = [];
    const out = await events(
      localAgent(),
      turn({ input: [{ type: 'text', text: '!echo hi' }], requestApproval: async ({ item }) => (asked.push(item), 'approved') }),
    );
    expect(asked).toHaveLength(1);
    const done = out.find((e) => e.type === 'item.completed' && e.item.type === 'command_execution');
    expect(done).toMatchObject({ item: { status: 'completed', exit_code: 0, aggregated_output: 'hi\n', command: 'echo hi' } });
  });

  it('declines a denied command without running it', async () => {
    const out = await events(localAgent(), turn({ input: [{ type: 'text', text: '!touch /tmp/should-not-exist-colloquy' }], requestApproval: async () => 'denied' }));
    expect(out.find((e) => e.type === 'item.completed' && e.item.type === 'command_execution')).toMatchObject({ item: { status: 'declined' } });
    expect(messages(out)[0]).toContain('declined');
  });

  it('answers steered input in the same turn', async () => {
    let steered = [[{ type: 'text' as const, text: 'also this' }]];
    const out = await events(localAgent(), turn({ takeSteeredInput: () => steered.splice(0) }));
    expect(messages(out).at(-1)).toBe('You added: "also this".');
    steered = [];
  });

  it('summarises the user messages in a compact turn', async () => {
    const history: ThreadItem[] = [{ id: 'item_1', type: 'user_message', text: 'the moon' }];
    const out = await events(localAgent(), turn({ kind: 'compact', input: [], history }));
    expect(out).toEqual([{ type: 'compaction', summary: 'The user said, in order: "the moon".' }]);
  });
});

describe('scripted mode', () => {
  it('plays turn n of the script on turn n', async () => {
    const agent = localAgent({ script: { turns: [{ steps: [{ type: 'message', text: 'one' }] }, { steps: [{ type: 'reasoning', text: 'hmm' }, { type: 'message', text: 'two' }] }] } });
    expect(messages(await events(agent, turn({ number: 1 })))).toEqual(['one']);
    const second = await events(agent, turn({ number: 2 }));
    expect(second.map((e) => (e.type === 'item.completed' ? e.item.type : e.type))).toEqual(['reasoning', 'agent_message']);
    await expect(events(agent, turn({ number: 3 }))).rejects.toThrow('the agent script has no turn 3');
  });

  it('repeats the last turn or cycles when asked', async () => {
    const last = localAgent({ script: { turns: [{ steps: [{ type: 'message', text: 'a' }] }, { steps: [{ type: 'message', text: 'b' }] }], repeat: 'last' } });
    expect(messages(await events(last, turn({ number: 5 })))).toEqual(['b']);
    const cycle = localAgent({ script: { turns: [{ steps: [{ type: 'message', text: 'a' }] }, { steps: [{ type: 'message', text: 'b' }] }], repeat: 'cycle' } });
    expect(messages(await events(cycle, turn({ number: 3 })))).toEqual(['a']);
  });

  it('fails the turn where the script says so', async () => {
    const agent = localAgent({ script: { turns: [{ steps: [{ type: 'message', text: 'partial' }, { type: 'fail', message: 'rate limited', code: 'rate_limit' }] }] } });
    await expect(events(agent, turn())).rejects.toMatchObject({ message: 'rate limited', code: 'rate_limit' });
  });

  it('simulates commands and tool calls, asking approval', async () => {
    const asked: string[] = [];
    const agent = localAgent({
      script: {
        turns: [
          {
            steps: [
              { type: 'command', command: 'ls', output: 'a\n', exit_code: 0 },
              { type: 'tool_call', name: 'search', arguments: { q: 'x' }, output: 'found', approval: true },
              { type: 'tool_call', name: 'free', output: 'ok' },
            ],
          },
        ],
      },
    });
    const out = await events(agent, turn({ requestApproval: async ({ callId }) => (asked.push(callId), 'approved') }));
    expect(asked).toHaveLength(2);
    const completed = out.filter((e) => e.type === 'item.completed').map((e) => (e as { item: ThreadItem }).item);
    expect(completed).toMatchObject([
      { type: 'command_execution', status: 'completed', aggregated_output: 'a\n' },
      { type: 'tool_call', name: 'search', status: 'completed', output: 'found' },
      { type: 'tool_call', name: 'free', output: 'ok' },
    ]);
  });

  it('a delay ends early when the turn is interrupted, unless uncooperative', async () => {
    const controller = new AbortController();
    const agent = localAgent({ script: { turns: [{ steps: [{ type: 'delay', ms: 5_000 }, { type: 'message', text: 'late' }] }] } });
    const t0 = Date.now();
    setTimeout(() => controller.abort(), 50);
    const out = await events(agent, turn({ signal: controller.signal }));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(messages(out)).toEqual([]);
  });

  it('rejects a malformed script naming the field', () => {
    expect(() => parseScript({ turns: [{ steps: [{ type: 'message', txt: 'x' }] }] })).toThrow(InvalidScriptError);
    try {
      parseScript({ turns: [{ steps: [{ type: 'delay', ms: -1 }] }] });
    } catch (err) {
      expect((err as InvalidScriptError).field).toBe('turns[0].steps[0].ms');
    }
  });
});
