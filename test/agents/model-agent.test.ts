import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { COMPACT_PROMPT, MaxSamplingsError, modelAgent } from '../../src/agents/model/agent.js';
import type { PromptItem, SampleRequest } from '../../src/agents/model/client.js';
import { SUMMARY_PREFIX } from '../../src/agents/model/prompt.js';
import { defineTool } from '../../src/agents/tools/tool.js';
import { shellTool } from '../../src/agents/tools/shell-tool.js';
import type { ApprovalPolicy, ThreadEvent } from '../../src/index.js';
import { call, fakeModel, text, usage } from '../support/fake-model.js';
import { next, record, runtime, tempHome } from '../runtime/helpers.js';
import { expectNoEscapedErrors } from '../support/no-escapes.js';

// Model failures, tool errors and interrupts never escape as uncaught exceptions or unhandled rejections.
expectNoEscapedErrors();

const outputs = (r: SampleRequest | undefined) =>
  (r?.input ?? []).filter((i): i is Extract<PromptItem, { type: 'function_call_output' }> => i.type === 'function_call_output');
const messages = (r: SampleRequest | undefined) =>
  (r?.input ?? []).filter((i): i is Extract<PromptItem, { type: 'message' }> => i.type === 'message').map((m) => `${m.role}:${m.text}`);

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

async function conversation(model: ReturnType<typeof fakeModel>, approvalPolicy: ApprovalPolicy = 'never', extra: Parameters<typeof modelAgent>[0]['tools'] = undefined) {
  const rt = runtime({ agent: modelAgent({ client: model, ...(extra ? { tools: extra } : {}) }) });
  return { rt, convo: await rt.start({ approvalPolicy, instructions: 'be brief', model: 'gpt-test' }) };
}

describe('model agent: sampling', () => {
  it('streams text as a growing agent message and reports usage', async () => {
    const model = fakeModel([...text('Hello there'), usage(120, 7)]);
    const { convo } = await conversation(model);
    const events = record(convo);
    const result = await convo.run('hi');
    expect(result.finalResponse).toBe('Hello there');
    expect(result.usage).toMatchObject({ input_tokens: 120, output_tokens: 7 });
    const message = events.filter((e) => 'item' in e && e.item.type === 'agent_message').map((e) => [e.type, (e as { item: { text: string } }).item.text]);
    expect(message).toEqual([
      ['item.started', ''],
      ['item.updated', 'Hello '],
      ['item.updated', 'Hello there'],
      ['item.completed', 'Hello there'],
    ]);
    const request = model.requests[0];
    expect(request).toMatchObject({ model: 'gpt-test', instructions: 'be brief', parallelToolCalls: true });
    expect(messages(request)).toEqual(['user:hi']);
    expect(request?.tools.map((t) => t.name)).toEqual(['shell']);
    expect(request?.tools[0]?.parameters).toMatchObject({ type: 'object', required: ['command'] });
  });

  it('sends the history of earlier turns, and the compaction summary first', async () => {
    const model = fakeModel(text('one'), text('two'), text('the user said one and two'), text('three'));
    const { convo, rt } = await conversation(model);
    await convo.run('first');
    await convo.run('second');
    expect(messages(model.requests[1])).toEqual(['user:first', 'assistant:one', 'user:second']);
    await convo.compact();
    expect(model.requests[2]?.tools).toEqual([]);
    expect(messages(model.requests[2]).at(-1)).toBe(`user:${COMPACT_PROMPT}`);
    await convo.run('third');
    const after = messages(model.requests[3]);
    expect(after[0]).toBe(`user:${SUMMARY_PREFIX}the user said one and two`);
    expect(after.at(-1)).toBe('user:third');
    expect((await rt.read(convo.id)).turns.map((t) => t.kind)).toEqual(['regular', 'regular', 'compact', 'regular']);
  });

  it('fails the turn with MaxSamplingsError when the model never stops calling tools', async () => {
    const model = fakeModel();
    for (let i = 0; i < 3; i++) model.push([call(`c${i}`, 'shell', { command: 'true' })]);
    const rt = runtime({ agent: modelAgent({ client: model, maxSamplings: 3 }) });
    const convo = await rt.start({ approvalPolicy: 'never' });
    await expect(convo.run('loop')).rejects.toMatchObject({ code: 'max_samplings_exceeded' });
    expect(model.requests).toHaveLength(3);
    expect(convo.state).toBe('error');
    expect(new MaxSamplingsError(3).limit).toBe(3);
  });

  it('a model failure fails the turn with its code and retry runs it again', async () => {
    const failure = Object.assign(new Error('upstream overloaded'), { code: 'server_error' });
    const model = fakeModel(failure, text('recovered'));
    const { convo } = await conversation(model);
    await expect(convo.run('hi')).rejects.toMatchObject({ code: 'server_error', message: 'upstream overloaded' });
    expect(convo.state).toBe('error');
    const done = next(convo, 'turn.completed');
    await convo.retry();
    await done;
    expect(messages(model.requests[1])).toEqual(['user:hi']);
  });
});

describe('model agent: tools', () => {
  it('runs a shell call and samples again with its output; the next turn sees call and output', async () => {
    const model = fakeModel([call('c1', 'shell', { command: 'echo hi' })], text('it printed hi'), text('ok'));
    const { convo } = await conversation(model);
    const result = await convo.run('say hi');
    expect(result.items.map((i) => i.type)).toEqual(['user_message', 'command_execution', 'agent_message']);
    expect(result.items[1]).toMatchObject({ command: 'echo hi', aggregated_output: 'hi\n', exit_code: 0, status: 'completed', call_id: 'c1' });
    expect(outputs(model.requests[1])).toEqual([{ type: 'function_call_output', callId: 'c1', output: 'Exit code: 0\nOutput:\nhi\n' }]);
    await convo.run('again');
    const input = model.requests[2]?.input ?? [];
    expect(input.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output', 'message', 'message']);
  });

  it('runs parallel calls concurrently and returns outputs in the model order', async () => {
    let running = 0;
    let most = 0;
    const slowEcho = defineTool({
      name: 'echo',
      description: 'echo',
      parameters: z.object({ text: z.string(), ms: z.number() }),
      needsApproval: false,
      execute: async ({ text: t, ms }) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, ms));
        running--;
        return t.toUpperCase();
      },
    });
    const model = fakeModel([call('a', 'echo', { text: 'slow', ms: 60 }), call('b', 'echo', { text: 'fast', ms: 5 })], text('done'));
    const { convo } = await conversation(model, 'on-request', [slowEcho as never]);
    const result = await convo.run('go');
    expect(most).toBe(2);
    expect(outputs(model.requests[1]).map((o) => [o.callId, o.output])).toEqual([
      ['a', 'SLOW'],
      ['b', 'FAST'],
    ]);
    // Items complete in the order calls finish; both are recorded with their outputs.
    expect(result.items.filter((i) => i.type === 'tool_call').map((i) => (i as { output?: string }).output).sort()).toEqual(['FAST', 'SLOW']);
  });

  it('turns tool failures into outputs: unknown tool, bad JSON, bad arguments, a throwing tool', async () => {
    const boom = defineTool({
      name: 'boom',
      description: 'fails',
      parameters: z.object({ n: z.int() }),
      needsApproval: false,
      execute: () => {
        throw new Error('kaput');
      },
    });
    const model = fakeModel(
      [call('c1', 'nope', {}), call('c2', 'boom', '{not json'), call('c3', 'boom', { n: 'x' }), call('c4', 'boom', { n: 1 })],
      text('handled'),
    );
    const { convo } = await conversation(model, 'never', [boom as never]);
    const result = await convo.run('go');
    expect(result.finalResponse).toBe('handled');
    const out = outputs(model.requests[1]).map((o) => o.output);
    expect(out[0]).toMatch(/^unknown tool "nope"/);
    expect(out[1]).toMatch(/not valid JSON/);
    expect(out[2]).toMatch(/^invalid arguments for boom: n: /);
    expect(out[3]).toBe('error: kaput');
    expect(result.items.filter((i) => i.type === 'tool_call').every((i) => (i as { status: string }).status === 'failed')).toBe(true);
  });
});

describe('model agent: approvals', () => {
  it('on-request asks before a shell call; denied calls tell the model and record declined', async () => {
    const model = fakeModel([call('c1', 'shell', { command: 'touch should-not-exist' })], text('understood'));
    const { convo } = await conversation(model, 'on-request');
    const asked = next(convo, 'approval.requested');
    const turn = convo.run('make a file');
    const request = await asked;
    expect(request).toMatchObject({ callId: 'c1', item: { type: 'command_execution', command: 'touch should-not-exist' } });
    await convo.approve('c1', 'denied');
    const result = await turn;
    expect(result.items[1]).toMatchObject({ type: 'command_execution', status: 'declined' });
    expect(outputs(model.requests[1])[0]?.output).toMatch(/declined/);
  });

  it('approved_for_session is remembered for the same command, recorded and kept across a resume', async () => {
    const home = await tempHome();
    const model = fakeModel([call('c1', 'shell', { command: 'echo ok' })], text('one'), [call('c2', 'shell', { command: 'echo ok' })], text('two'));
    const first = runtime({ home, agent: modelAgent({ client: model }) });
    const convo = await first.start({ approvalPolicy: 'on-request' });
    const asked = next(convo, 'approval.requested');
    const turn = convo.run('first');
    await asked;
    await convo.approve('c1', 'approved_for_session');
    await turn;
    const events = record(convo);
    await convo.run('second');
    expect(events.some((e) => e.type === 'approval.requested')).toBe(false);
    await first.shutdown();
    const second = runtime({ home, agent: modelAgent({ client: fakeModel([call('c3', 'shell', { command: 'echo ok' })], text('three')) }) });
    const resumed = await second.resume(convo.id);
    const later = record(resumed);
    await resumed.run('third');
    expect(later.some((e) => e.type === 'approval.requested')).toBe(false);
  });

  it('untrusted runs known-safe commands without asking and asks for the rest', async () => {
    const model = fakeModel([call('c1', 'shell', { command: 'ls -la && pwd' }), call('c2', 'shell', { command: 'rm -rf build' })], text('ok'));
    const { convo } = await conversation(model, 'untrusted');
    const asked: string[] = [];
    convo.subscribe((e) => {
      if (e.type === 'approval.requested') {
        asked.push(e.callId);
        void convo.approve(e.callId, 'denied');
      }
    });
    await convo.run('look around');
    expect(asked).toEqual(['c2']);
  });

  it('on-failure runs without asking and offers a failed command for a re-run', async () => {
    const model = fakeModel([call('c1', 'shell', { command: 'exit 3' })], text('it failed twice'));
    const { convo } = await conversation(model, 'on-failure');
    const events: ThreadEvent[] = [];
    convo.subscribe((e) => {
      events.push(e);
      if (e.type === 'approval.requested') void convo.approve(e.callId, 'approved');
    });
    const result = await convo.run('try');
    const asked = events.filter((e) => e.type === 'approval.requested');
    expect(asked).toMatchObject([{ callId: 'c1:rerun', item: { status: 'failed', exit_code: 3 } }]);
    expect(result.items[1]).toMatchObject({ type: 'command_execution', exit_code: 3, status: 'failed' });
    expect(outputs(model.requests[1])[0]?.output).toBe('Exit code: 3\nOutput:\n');
  });

  it('a call waiting for approval survives a crash: approving it after resume runs it once', async () => {
    const home = await tempHome();
    const model = fakeModel([call('c1', 'shell', { command: 'echo resumed' })]);
    const first = runtime({ home, agent: modelAgent({ client: model }) });
    const convo = await first.start({ approvalPolicy: 'on-request' });
    const asked = next(convo, 'approval.requested');
    void convo.run('go').catch(() => {});
    await asked;
    await new Promise((r) => setTimeout(r, 50));
    await first.store.release(convo.id);
    (first as unknown as { shutdown(): Promise<void> }).shutdown = async () => {};

    const after = fakeModel(text('ran it'));
    const second = runtime({ home, agent: modelAgent({ client: after }) });
    const resumed = await second.resume(convo.id);
    expect(resumed.pendingApprovals.map((p) => p.callId)).toEqual(['c1']);
    const completed = next(resumed, 'turn.completed');
    await resumed.approve('c1', 'approved');
    await completed;
    expect(model.requests).toHaveLength(1);
    // The resumed turn's request has the original user message, the call and its output.
    expect(after.requests[0]?.input.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output']);
    expect(outputs(after.requests[0])[0]).toEqual({ type: 'function_call_output', callId: 'c1', output: 'Exit code: 0\nOutput:\nresumed\n' });
    const read = await second.read(convo.id);
    expect(read.turns[0]?.items.filter((i) => i.type === 'command_execution')).toHaveLength(1);
  });
});

describe('model agent: steering and interrupts', () => {
  it('steered input joins the prompt before the next request and is recorded once', async () => {
    const release = gate();
    const wait = defineTool({ name: 'wait', description: 'waits', parameters: z.object({}), needsApproval: false, execute: () => release.opened.then(() => 'waited') });
    const model = fakeModel([call('w', 'wait', {})], text('noted'));
    const { convo, rt } = await conversation(model, 'never', [wait as never]);
    const started = next(convo, 'item.started', (e) => e.item.type === 'tool_call');
    const turn = convo.run('start');
    await started;
    const queued = next(convo, 'input.queued');
    const steered = convo.run('also this', { mode: 'steer' });
    await queued;
    release.open();
    await Promise.all([turn, steered]);
    expect(messages(model.requests[1])).toEqual(['user:start', 'user:also this']);
    const log = await rt.read(convo.id);
    expect(log.turns).toHaveLength(1);
    expect(log.turns[0]?.items.filter((i) => i.type === 'user_message').map((i) => (i as { text: string }).text)).toEqual(['start', 'also this']);
  });

  it('an interrupt aborts the model request and a running command; the next prompt is valid', async () => {
    const model = fakeModel([call('c1', 'shell', { command: 'sleep 30' })], text('next turn'));
    const { convo } = await conversation(model);
    const running = next(convo, 'item.started', (e) => e.item.type === 'command_execution');
    const turn = convo.run('sleep');
    await running;
    await convo.interrupt();
    await expect(turn).rejects.toMatchObject({ reason: 'interrupted' });
    await convo.run('what happened?');
    const input = model.requests[1]?.input ?? [];
    expect(input.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output', 'message', 'message']);
    expect((input[2] as { output: string }).output).toMatch(/aborted/);
    expect((input[3] as { text: string }).text).toMatch(/^<turn_aborted>/);
  });

  it('an interrupt during a slow model response aborts its signal', async () => {
    let signal: AbortSignal | undefined;
    const model = fakeModel((request) => {
      signal = request.signal;
      return 'hang';
    });
    const { convo } = await conversation(model);
    const started = next(convo, 'turn.started');
    const turn = convo.run('think hard');
    await started;
    await new Promise((r) => setTimeout(r, 10));
    await convo.interrupt();
    await expect(turn).rejects.toMatchObject({ reason: 'interrupted' });
    expect(signal?.aborted).toBe(true);
  });
});

describe('model agent: context', () => {
  it('compacts automatically once a request nears the context window, summarising with the model', async () => {
    const model = fakeModel([...text('big answer'), usage(950, 60)], text('summary of the big answer'), text('fresh start'));
    const rt = runtime({ agent: modelAgent({ client: model }), context: { windows: { tiny: 1000 }, keepUserTokens: 0 } });
    const convo = await rt.start({ model: 'tiny', approvalPolicy: 'never' });
    await convo.run('fill it up');
    const result = await convo.run('and then?');
    expect(result.finalResponse).toBe('fresh start');
    expect(messages(model.requests[1]).at(-1)).toBe(`user:${COMPACT_PROMPT}`);
    expect(messages(model.requests[2])).toEqual([`user:${SUMMARY_PREFIX}summary of the big answer`, 'user:and then?']);
  });

  it('a context-window error fails the turn; retry compacts and runs the input again', async () => {
    const tooLong = Object.assign(new Error('maximum context length exceeded'), { code: 'context_window_exceeded' });
    const model = fakeModel(text('hello'), tooLong, text('summary'), text('answered'));
    const { convo } = await conversation(model);
    await convo.run('first');
    await expect(convo.run('huge paste')).rejects.toMatchObject({ code: 'context_window_exceeded' });
    const done = next(convo, 'turn.completed', (e) => !e.turn_id.startsWith('compact-'));
    await convo.retry();
    await done;
    expect(messages(model.requests[3]).at(-1)).toBe('user:huge paste');
    expect(messages(model.requests[3])[0]).toMatch(/^user:Earlier turns/);
  });
});

describe('shell tool', () => {
  it('streams output as item updates and elides the middle of long output', async () => {
    const tool = shellTool({ maxOutputBytes: 200, updateIntervalMs: 0 });
    const model = fakeModel([call('c1', 'shell', { command: 'for i in $(seq 1 200); do echo line$i; done' })], text('long'));
    const { convo } = await conversation(model, 'never', [tool as never]);
    const updates: string[] = [];
    convo.subscribe((e) => e.type === 'item.updated' && e.item.type === 'command_execution' && updates.push(e.item.aggregated_output));
    const result = await convo.run('print a lot');
    expect(updates.length).toBeGreaterThan(0);
    const item = result.items[1] as { aggregated_output: string };
    expect(item.aggregated_output.startsWith('line1\n')).toBe(true);
    expect(item.aggregated_output.endsWith('line200\n')).toBe(true);
    expect(item.aggregated_output).toMatch(/bytes elided/);
  });

  it('kills a command at its timeout and reports exit code 124', async () => {
    const model = fakeModel([call('c1', 'shell', { command: 'sleep 5', timeout_ms: 100 })], text('timed out'));
    const { convo } = await conversation(model);
    const result = await convo.run('wait');
    expect(result.items[1]).toMatchObject({ exit_code: 124, status: 'failed' });
    expect(outputs(model.requests[1])[0]?.output).toMatch(/timed out after 100 ms/);
  });
});
