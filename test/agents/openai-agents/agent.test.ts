/**
 * `agentsSdkAgent`: a real `@openai/agents` Agent run as a Colloquy agent inside a real
 * runtime, with a scripted SDK model (`sdk-model.ts`) and, for the SDK's own OpenAI model, the
 * loopback mock server.
 */
import { Agent, OpenAIProvider, Runner, tool, type ModelRequest } from '@openai/agents';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { TurnAbortedError, TurnFailedError, type ThreadEvent, type ThreadItem } from '../../../src/index.js';
import { agentsSdkAgent, DECLINED_OUTPUT } from '../../../src/agents/openai-agents/index.js';
import { next, record, runtime, tempHome } from '../../runtime/helpers.js';
import { startMockResponses, type MockResponsesServer } from '../../support/mock-responses.js';
import { callTool, say, sdkModel, type SdkModel } from './sdk-model.js';

const runner = new Runner({ tracingDisabled: true });

/** A runtime whose agent runs `agent` (memory store). */
function withAgent(agent: Agent<any, any>, options: Parameters<typeof agentsSdkAgent>[1] = {}) {
  return runtime({ agent: agentsSdkAgent(agent, { runner, ...options }) });
}

/** The JSON text of a model request's input, to look for what reached the model. */
const inputText = (request: ModelRequest | undefined): string => JSON.stringify(request?.input ?? null);

/** The function call results in a model request's input. */
function callResults(request: ModelRequest | undefined): { callId: string; output: unknown }[] {
  const input = Array.isArray(request?.input) ? request.input : [];
  return input
    .filter((i): i is Extract<typeof i, { type: 'function_call_result' }> => 'type' in i && i.type === 'function_call_result')
    .map((i) => ({ callId: i.callId, output: i.output }));
}

const completedItems = (events: readonly ThreadEvent[]): ThreadItem[] =>
  events.flatMap((e) => (e.type === 'item.completed' ? [e.item] : []));

/** A tool that records its calls; `needsApproval` as given. */
function weatherTool(needsApproval = false) {
  const calls: string[] = [];
  const weather = tool({
    name: 'weather',
    description: 'The weather in a city.',
    parameters: z.object({ city: z.string() }),
    needsApproval,
    execute: async ({ city }) => {
      calls.push(city);
      return `Sunny in ${city}`;
    },
  });
  return { weather, calls };
}

describe('agentsSdkAgent in a Colloquy runtime', () => {
  it('a plain text turn: the agent message streams, completes and is recorded; usage reaches turn.completed', async () => {
    const model = sdkModel([say('Hello there.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', instructions: 'Be brief.', model }));
    const convo = await rt.start();
    const events = record(convo);
    const result = await convo.run('hi');

    expect(result.finalResponse).toBe('Hello there.');
    expect(result.items.map((i) => i.type)).toEqual(['user_message', 'agent_message']);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('turn.started');
    expect(types.at(-1)).toBe('turn.completed');
    const message = completedItems(events).find((i) => i.type === 'agent_message');
    expect(message).toMatchObject({ type: 'agent_message', text: 'Hello there.' });
    // The streamed text was shown under the same item id as the completed message.
    const updated = events.filter((e) => e.type === 'item.updated');
    expect(updated.length).toBeGreaterThan(0);
    expect(updated.every((e) => e.type === 'item.updated' && e.item.id === message?.id)).toBe(true);
    const completed = events.at(-1);
    const usage = { input_tokens: 12, cached_input_tokens: 2, output_tokens: 4, reasoning_output_tokens: 1 };
    expect(completed).toMatchObject({ type: 'turn.completed', usage, turn_usage: usage });
    expect(result.usage).toEqual(usage);
    // The model got the instructions and the user's text.
    expect(model.requests[0]?.systemInstructions).toBe('Be brief.');
    expect(inputText(model.requests[0])).toContain('hi');
    // The log holds the turn.
    const read = await rt.read(convo.id);
    expect(read.turns.map((t) => [t.status, t.items.map((i) => i.type)])).toEqual([['completed', ['user_message', 'agent_message']]]);
  });

  it('the history of earlier turns reaches the model', async () => {
    const model = sdkModel([say('Hello, Ada.')], [say('You are Ada.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model }));
    const convo = await rt.start();
    await convo.run('My name is Ada.');
    const second = await convo.run('What is my name?');
    expect(second.finalResponse).toBe('You are Ada.');
    const input = model.requests[1]?.input;
    expect(Array.isArray(input)).toBe(true);
    const roles = (input as { role?: string; content?: unknown }[]).map((i) => i.role);
    expect(roles).toEqual(['user', 'assistant', 'user']);
    expect(inputText(model.requests[1])).toContain('My name is Ada.');
    expect(inputText(model.requests[1])).toContain('Hello, Ada.');
    expect(inputText(model.requests[1])).toContain('What is my name?');
  });

  it('a function tool call and its output are recorded as a tool_call item', async () => {
    const { weather, calls } = weatherTool();
    const model = sdkModel([callTool('call_w1', 'weather', { city: 'Paris' })], [say('It is sunny in Paris.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }));
    const convo = await rt.start();
    const events = record(convo);
    const result = await convo.run('Weather in Paris?');

    expect(calls).toEqual(['Paris']);
    expect(result.finalResponse).toBe('It is sunny in Paris.');
    expect(result.items.map((i) => i.type)).toEqual(['user_message', 'tool_call', 'agent_message']);
    const call = result.items[1];
    expect(call).toMatchObject({ type: 'tool_call', name: 'weather', arguments: { city: 'Paris' }, output: 'Sunny in Paris', status: 'completed', call_id: 'call_w1' });
    // Shown as started, then completed under the same id.
    const started = events.find((e) => e.type === 'item.started' && e.item.type === 'tool_call');
    expect(started?.type === 'item.started' && started.item.id).toBe(call?.id);
    // The second model request carried the call and its output.
    expect(callResults(model.requests[1])).toEqual([{ callId: 'call_w1', output: expect.objectContaining({ text: 'Sunny in Paris' }) }]);
    // Recorded in the log.
    const read = await rt.read(convo.id);
    expect(read.turns[0]?.items.find((i) => i.type === 'tool_call')).toEqual(call);
  });
});

describe('agentsSdkAgent tool approvals', () => {
  it('needsApproval asks Colloquy (approval.requested with callId); approved runs the tool', async () => {
    const { weather, calls } = weatherTool(true);
    const model = sdkModel([callTool('call_a1', 'weather', { city: 'Oslo' })], [say('Sunny in Oslo.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }));
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const run = convo.run('Weather in Oslo?');
    const request = await asked;
    expect(request.callId).toBe('call_a1');
    expect(request.item).toMatchObject({ type: 'tool_call', name: 'weather', arguments: { city: 'Oslo' }, status: 'in_progress' });
    expect(convo.state).toBe('processing');
    expect(calls).toEqual([]);
    expect((await rt.read(convo.id)).pending.approvals.map((a) => a.callId)).toEqual(['call_a1']);

    await convo.approve('call_a1', 'approved');
    const result = await run;
    expect(calls).toEqual(['Oslo']);
    expect(result.finalResponse).toBe('Sunny in Oslo.');
    expect(result.items.find((i) => i.type === 'tool_call')).toMatchObject({ output: 'Sunny in Oslo', status: 'completed', call_id: 'call_a1' });
    expect(callResults(model.requests[1])).toEqual([{ callId: 'call_a1', output: expect.objectContaining({ text: 'Sunny in Oslo' }) }]);
  });

  it('denied: the tool does not run, the model gets the declined output, the item is declined', async () => {
    const { weather, calls } = weatherTool(true);
    const model = sdkModel([callTool('call_d1', 'weather', { city: 'Rome' })], [say('I may not look that up.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }), { rejectionMessage: DECLINED_OUTPUT });
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const run = convo.run('Weather in Rome?');
    expect((await asked).callId).toBe('call_d1');
    await convo.approve('call_d1', 'denied');
    const result = await run;
    expect(calls).toEqual([]);
    expect(result.finalResponse).toBe('I may not look that up.');
    expect(result.items.find((i) => i.type === 'tool_call')).toMatchObject({ name: 'weather', status: 'declined', call_id: 'call_d1' });
    const [declined] = callResults(model.requests[1]);
    expect(declined?.callId).toBe('call_d1');
    expect(JSON.stringify(declined?.output)).toContain(DECLINED_OUTPUT);
  });

  it('abort: the tool does not run and the turn ends aborted', async () => {
    const { weather, calls } = weatherTool(true);
    const model = sdkModel([callTool('call_x1', 'weather', { city: 'Oulu' })], [say('Next turn.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }));
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const aborted = next(convo, 'turn.aborted');
    const run = convo.run('Weather in Oulu?').catch((err: unknown) => err);
    await asked;
    await convo.approve('call_x1', 'abort');
    expect(await aborted).toMatchObject({ reason: 'interrupted' });
    expect(await run).toBeInstanceOf(TurnAbortedError);
    expect(calls).toEqual([]);
    expect(model.requests).toHaveLength(1);
    expect((await convo.run('Go on.')).finalResponse).toBe('Next turn.');
  });

  it('input steered in while an approval waits joins the resumed run', async () => {
    const { weather } = weatherTool(true);
    const model = sdkModel([callTool('call_t1', 'weather', { city: 'Cork' })], [say('Sunny in Cork, and noted.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }));
    const convo = await rt.start();
    const asked = next(convo, 'approval.requested');
    const run = convo.run('Weather in Cork?');
    await asked;
    const queued = next(convo, 'input.queued');
    const steered = convo.run('Also, use Celsius.', { mode: 'steer' });
    expect(await queued).toMatchObject({ mode: 'steer', text: 'Also, use Celsius.' });
    await convo.approve('call_t1', 'approved');
    const [result] = await Promise.all([run, steered]);
    expect(result.finalResponse).toBe('Sunny in Cork, and noted.');
    expect(model.requests).toHaveLength(2);
    expect(inputText(model.requests[1])).toContain('Also, use Celsius.');
    expect(result.items.filter((i) => i.type === 'user_message').map((i) => i.type === 'user_message' && i.text)).toEqual(['Weather in Cork?', 'Also, use Celsius.']);
  });

  it('approved_for_session is remembered: the same tool later runs without asking', async () => {
    const { weather, calls } = weatherTool(true);
    const model = sdkModel(
      [callTool('call_s1', 'weather', { city: 'Lima' })],
      [say('Sunny in Lima.')],
      [callTool('call_s2', 'weather', { city: 'Quito' })],
      [say('Sunny in Quito.')],
    );
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }));
    const convo = await rt.start();
    const events = record(convo);
    const asked = next(convo, 'approval.requested');
    const first = convo.run('Weather in Lima?');
    expect((await asked).callId).toBe('call_s1');
    await convo.approve('call_s1', 'approved_for_session');
    expect((await first).finalResponse).toBe('Sunny in Lima.');

    const second = await convo.run('And in Quito?');
    expect(second.finalResponse).toBe('Sunny in Quito.');
    expect(calls).toEqual(['Lima', 'Quito']);
    expect(events.filter((e) => e.type === 'approval.requested').map((e) => e.type === 'approval.requested' && e.callId)).toEqual(['call_s1']);
    expect(second.items.find((i) => i.type === 'tool_call')).toMatchObject({ status: 'completed', output: 'Sunny in Quito' });
  });
});

describe('agentsSdkAgent across a restart', () => {
  it('an approval pending at a crash is asked again after resume; the decision reaches the model', async () => {
    const home = await tempHome();
    const { weather, calls } = weatherTool(true);
    const model = sdkModel([callTool('call_r1', 'weather', { city: 'Kyiv' })]);
    const agent = new Agent({ name: 'Assistant', model, tools: [weather] });
    const first = runtime({ home, agent: agentsSdkAgent(agent, { runner }) });
    const convo = await first.start();
    const asked = next(convo, 'approval.requested');
    void convo.run('Weather in Kyiv?').catch(() => {});
    expect((await asked).callId).toBe('call_r1');
    // Let the request be written, then "crash": the first runtime never ends; a second one opens the log.
    await new Promise((r) => setTimeout(r, 50));
    await first.store.release(convo.id);
    (first as unknown as { shutdown(): Promise<void> }).shutdown = async () => {};

    model.push([say('Asked again: it was approved.')]);
    const second = runtime({ home, agent: agentsSdkAgent(agent, { runner }) });
    const resumed = await second.resume(convo.id);
    expect(resumed.pendingApprovals.map((a) => a.callId)).toEqual(['call_r1']);
    const completed = next(resumed, 'turn.completed');
    await resumed.approve('call_r1', 'approved');
    await completed;
    // The call did not run; the model was told it was approved and did not run.
    expect(calls).toEqual([]);
    const results = callResults(model.requests[1]);
    expect(results.map((r) => r.callId)).toEqual(['call_r1']);
    expect(JSON.stringify(results[0]?.output)).toContain('approved');
    expect(inputText(model.requests[1])).toContain('Weather in Kyiv?');
    const read = await second.read(convo.id);
    expect(read.turns.at(-1)?.items.map((i) => [i.type, 'text' in i ? i.text : ''])).toContainEqual(['agent_message', 'Asked again: it was approved.']);
  });
});

describe('agentsSdkAgent interrupts and failures', () => {
  it('interrupt during a hanging stream ends the turn aborted and fires the request\'s AbortSignal', async () => {
    const model = sdkModel('hang', [say('Back again.')]);
    const rt = withAgent(new Agent({ name: 'Assistant', model }));
    const convo = await rt.start();
    const streaming = next(convo, 'item.updated');
    const aborted = next(convo, 'turn.aborted');
    const run = convo.run('Think hard.');
    const rejected = expect(run).rejects.toBeInstanceOf(TurnAbortedError);
    expect(await streaming).toMatchObject({ item: { type: 'agent_message', text: 'Let me think' } });
    await convo.interrupt();
    expect(await aborted).toMatchObject({ reason: 'interrupted' });
    await rejected;
    expect(model.aborted).toHaveLength(1);
    expect(model.aborted[0]?.signal?.aborted).toBe(true);
    expect(convo.state).toBe('idle');
    // The conversation goes on.
    expect((await convo.run('Again.')).finalResponse).toBe('Back again.');
  });

  it('a model error fails the turn with a typed error; the conversation is in error, and retry runs the turn again', async () => {
    let failures = 0;
    const model: SdkModel = sdkModel(() => {
      failures++;
      throw new Error('the model is unavailable');
    });
    const rt = withAgent(new Agent({ name: 'Assistant', model }));
    const convo = await rt.start();
    const failed = next(convo, 'turn.failed');
    const error = await convo.run('hi').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TurnFailedError);
    expect((error as TurnFailedError).message).toContain('the model is unavailable');
    expect(await failed).toMatchObject({ error: { message: expect.stringContaining('the model is unavailable'), code: 'agent_error' } });
    expect(convo.state).toBe('error');
    expect(failures).toBe(1);

    model.push([say('Recovered.')]);
    const completed = next(convo, 'turn.completed');
    await convo.retry();
    await completed;
    expect(convo.state).toBe('idle');
    const read = await rt.read(convo.id);
    expect(read.turns.at(-1)?.items.map((i) => [i.type, 'text' in i ? i.text : ''])).toContainEqual(['agent_message', 'Recovered.']);
    // The retried request carried the same user input.
    expect(inputText(model.requests.at(-1))).toContain('hi');
  });
});

describe('agentsSdkAgent errors of the SDK run', () => {
  it('a run over maxTurns fails the turn with max_turns_exceeded', async () => {
    const { weather } = weatherTool();
    const model = sdkModel([callTool('call_m1', 'weather', { city: 'Bern' })], [callTool('call_m2', 'weather', { city: 'Bern' })]);
    const rt = withAgent(new Agent({ name: 'Assistant', model, tools: [weather] }), { runOptions: { maxTurns: 1 } });
    const convo = await rt.start();
    const error = await convo.run('Weather in Bern?').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TurnFailedError);
    expect(error).toMatchObject({ code: 'max_turns_exceeded' });
    expect(convo.state).toBe('error');
  });
});

describe('agentsSdkAgent with the SDK\'s OpenAI Responses model over HTTP', () => {
  let mock: MockResponsesServer | null = null;
  afterEach(async () => {
    await mock?.close();
    mock = null;
  });

  /** A runner whose models are OpenAI Responses models of the mock server. */
  function mockRunner(server: MockResponsesServer): Runner {
    return new Runner({ tracingDisabled: true, modelProvider: new OpenAIProvider({ baseURL: server.baseUrl, apiKey: 'sk-test', useResponses: true }) });
  }

  it('streams the text and records it with the usage the server reported', async () => {
    const usage = { input_tokens: 30, cached_input_tokens: 8, output_tokens: 6, reasoning_output_tokens: 2 };
    mock = await startMockResponses({ script: [{ output: [{ type: 'message', text: 'Hello from the server.', chunks: ['Hello ', 'from the server.'] }], usage }] });
    const agent = new Agent({ name: 'Assistant', instructions: 'Be brief.', model: 'mock-model' });
    const rt = runtime({ agent: agentsSdkAgent(agent, { runner: mockRunner(mock) }) });
    const convo = await rt.start();
    const events = record(convo);
    const result = await convo.run('hi');

    expect(result.finalResponse).toBe('Hello from the server.');
    expect(events.filter((e) => e.type === 'item.updated').map((e) => e.type === 'item.updated' && 'text' in e.item && e.item.text)).toEqual([
      'Hello ',
      'Hello from the server.',
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'turn.completed', usage, turn_usage: usage });
    const [request] = mock.responseRequests();
    expect(request?.headers.authorization).toBe('Bearer sk-test');
    expect(request?.body).toMatchObject({ model: 'mock-model', instructions: 'Be brief.', stream: true });
    expect(JSON.stringify((request?.body as { input?: unknown }).input)).toContain('hi');
  });

  it('an HTTP error fails the turn with a typed code; the conversation is in error and retry succeeds', async () => {
    mock = await startMockResponses({ script: [{ kind: 'error', status: 401, message: 'Incorrect API key provided.' }] });
    const rt = runtime({ agent: agentsSdkAgent(new Agent({ name: 'Assistant', model: 'mock-model' }), { runner: mockRunner(mock) }) });
    const convo = await rt.start();
    const failed = next(convo, 'turn.failed');
    const error = await convo.run('hi').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TurnFailedError);
    expect(error).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('Incorrect API key provided.') });
    expect(await failed).toMatchObject({ error: { code: 'unauthorized', message: '401 Incorrect API key provided.' } });
    expect(convo.state).toBe('error');

    mock.enqueue({ output: [{ type: 'message', text: 'Now it works.' }] });
    const completed = next(convo, 'turn.completed');
    await convo.retry();
    await completed;
    expect(convo.state).toBe('idle');
    expect((await rt.read(convo.id)).turns.at(-1)?.items.map((i) => i.type)).toContain('agent_message');
    expect(JSON.stringify((mock.responseRequests().at(-1)?.body as { input?: unknown }).input)).toContain('hi');
  });
});
