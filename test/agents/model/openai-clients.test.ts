/**
 * The OpenAI adapters (Responses and Chat Completions) with the real `openai` package
 * against the loopback mock server: streaming, tool calls, usage, retries, aborts, context
 * window errors, rate-limit headers.
 */
import { createServer } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelError, type ModelEvent, type PromptItem, type SampleRequest } from '../../../src/agents/model/client.js';
import { openaiChatClient } from '../../../src/agents/model/openai-chat.js';
import { openaiResponsesClient, type OpenAIClientOptions, type OpenAIModelClient } from '../../../src/agents/model/openai-responses.js';
import { startMockResponses, type MockResponsesServer, type RecordedRequest } from '../../support/mock-responses.js';

let mock: MockResponsesServer | null = null;
const dirs: string[] = [];
afterEach(async () => {
  await mock?.close();
  mock = null;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function server(): Promise<MockResponsesServer> {
  mock = await startMockResponses();
  return mock;
}

function request(overrides: Partial<SampleRequest> = {}): SampleRequest {
  return {
    model: 'mock-model',
    instructions: 'Be brief.',
    input: [{ type: 'message', role: 'user', text: 'hi' }],
    tools: [],
    parallelToolCalls: true,
    signal: new AbortController().signal,
    ...overrides,
  };
}

/** Every event of one sampling request, and the error it ended with (if any). */
async function run(client: OpenAIModelClient, req: SampleRequest = request()): Promise<{ events: ModelEvent[]; error: unknown }> {
  const events: ModelEvent[] = [];
  try {
    for await (const event of client.sample(req)) events.push(event);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

const retrying = (events: readonly ModelEvent[]) => events.filter((e) => e.type === 'retrying');
const output = (events: readonly ModelEvent[]) => events.filter((e) => e.type !== 'retrying' && e.type !== 'rate_limits');

const SHELL_TOOL = {
  name: 'shell',
  description: 'Run a command',
  parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] },
};

type Api = 'responses' | 'chat';
const APIS: readonly Api[] = ['responses', 'chat'];

function clientFor(api: Api, m: MockResponsesServer, options: OpenAIClientOptions = {}): OpenAIModelClient {
  const all = { baseURL: m.baseUrl, apiKey: 'test-key', baseDelayMs: 2, maxDelayMs: 8, ...options };
  return api === 'responses' ? openaiResponsesClient(all) : openaiChatClient(all);
}

function requestsOf(api: Api, m: MockResponsesServer): RecordedRequest[] {
  return api === 'responses' ? m.responseRequests() : m.chatRequests();
}

/** How many SSE events reach the client before the first text delta (created + item added / the role chunk). */
const BEFORE_TEXT: Record<Api, number> = { responses: 2, chat: 1 };

describe.each(APIS)('%s client', (api) => {
  it('streams text deltas, then the whole text, then usage; sends model, instructions and the prompt', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'Hello, world.', chunks: ['Hel', 'lo, ', 'world.'] }] });
    const { events, error } = await run(clientFor(api, m));
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'text.delta', delta: 'Hel' },
      { type: 'text.delta', delta: 'lo, ' },
      { type: 'text.delta', delta: 'world.' },
      { type: 'text.done', text: 'Hello, world.' },
      { type: 'usage', usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 5, reasoning_output_tokens: 0 } },
    ]);
    const [sent] = requestsOf(api, m);
    expect(sent?.headers.authorization).toBe('Bearer test-key');
    if (api === 'responses') {
      expect(sent?.body).toMatchObject({ model: 'mock-model', instructions: 'Be brief.', stream: true, store: false, input: [{ type: 'message', role: 'user', content: 'hi' }] });
      expect(sent?.body).not.toHaveProperty('tools');
    } else {
      expect(sent?.body).toMatchObject({
        model: 'mock-model',
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
      });
    }
  });

  it('streams reasoning deltas and the finished reasoning before the text', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'reasoning', summary: 'Think first.', chunks: ['Think ', 'first.'] }, { type: 'message', text: 'Done.' }] });
    const { events } = await run(clientFor(api, m));
    expect(output(events).map((e) => e.type)).toEqual(['reasoning.delta', 'reasoning.delta', 'reasoning.done', 'text.delta', 'text.done', 'usage']);
    expect(events.find((e) => e.type === 'reasoning.done')).toEqual({ type: 'reasoning.done', text: 'Think first.' });
  });

  it('reports a tool call with its arguments, and offers the tools as function tools', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'function_call', name: 'shell', arguments: { command: 'ls -la' }, callId: 'call_1' }] });
    const { events, error } = await run(clientFor(api, m), request({ tools: [SHELL_TOOL], parallelToolCalls: false }));
    expect(error).toBeUndefined();
    expect(output(events)).toEqual([
      { type: 'tool_call', callId: 'call_1', name: 'shell', arguments: '{"command":"ls -la"}' },
      { type: 'usage', usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 5, reasoning_output_tokens: 0 } },
    ]);
    const body = requestsOf(api, m)[0]?.body as Record<string, unknown>;
    expect(body.parallel_tool_calls).toBe(false);
    expect(body.tools).toEqual(
      api === 'responses'
        ? [{ type: 'function', name: 'shell', description: 'Run a command', parameters: SHELL_TOOL.parameters, strict: false }]
        : [{ type: 'function', function: { name: 'shell', description: 'Run a command', parameters: SHELL_TOOL.parameters } }],
    );
  });

  it('reports parallel tool calls in order, each assembled from its own deltas', async () => {
    const m = await server();
    m.enqueue({
      output: [
        { type: 'message', text: 'Running both.' },
        { type: 'function_call', name: 'shell', arguments: { command: 'echo one' }, callId: 'call_a' },
        { type: 'function_call', name: 'shell', arguments: { command: 'echo two two two' }, callId: 'call_b' },
      ],
    });
    const { events } = await run(clientFor(api, m), request({ tools: [SHELL_TOOL] }));
    expect(output(events).filter((e) => e.type !== 'text.delta' && e.type !== 'usage')).toEqual([
      { type: 'text.done', text: 'Running both.' },
      { type: 'tool_call', callId: 'call_a', name: 'shell', arguments: '{"command":"echo one"}' },
      { type: 'tool_call', callId: 'call_b', name: 'shell', arguments: '{"command":"echo two two two"}' },
    ]);
    expect((requestsOf(api, m)[0]?.body as Record<string, unknown>).parallel_tool_calls).toBe(true);
  });

  it('maps usage: input incl. cached tokens, output incl. reasoning tokens', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 1200, cached_input_tokens: 800, output_tokens: 90, reasoning_output_tokens: 64 } });
    const { events } = await run(clientFor(api, m));
    expect(events.at(-1)).toEqual({ type: 'usage', usage: { input_tokens: 1200, cached_input_tokens: 800, output_tokens: 90, reasoning_output_tokens: 64 } });
  });

  it('sends earlier turns, function calls with their outputs, developer messages and images', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'ok' }] });
    const dir = await mkdtemp(join(tmpdir(), 'colloquy-image-'));
    dirs.push(dir);
    const image = join(dir, 'dot.png');
    await writeFile(image, Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    const dataUrl = `data:image/png;base64,${Buffer.from([0x89, 0x50, 0x4e, 0x47]).toString('base64')}`;
    const input: PromptItem[] = [
      { type: 'message', role: 'developer', text: 'Use the shell.' },
      { type: 'message', role: 'user', text: 'list files', images: [image] },
      { type: 'message', role: 'assistant', text: 'Listing.' },
      { type: 'function_call', callId: 'c1', name: 'shell', arguments: '{"command":"ls"}' },
      { type: 'function_call', callId: 'c2', name: 'shell', arguments: '{"command":"pwd"}' },
      { type: 'function_call_output', callId: 'c1', output: 'a.txt' },
      { type: 'function_call_output', callId: 'c2', output: '/tmp' },
      { type: 'function_call', callId: 'c3', name: 'shell', arguments: '{}' },
      { type: 'function_call_output', callId: 'c3', output: 'x' },
      { type: 'message', role: 'assistant', text: 'Two files.' },
    ];
    await run(clientFor(api, m), request({ input, instructions: null }));
    const body = requestsOf(api, m)[0]?.body as Record<string, unknown>;
    if (api === 'responses') {
      expect(body).not.toHaveProperty('instructions');
      expect(body.input).toEqual([
        { type: 'message', role: 'developer', content: 'Use the shell.' },
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'list files' }, { type: 'input_image', image_url: dataUrl, detail: 'auto' }] },
        { type: 'message', role: 'assistant', content: 'Listing.' },
        { type: 'function_call', call_id: 'c1', name: 'shell', arguments: '{"command":"ls"}' },
        { type: 'function_call', call_id: 'c2', name: 'shell', arguments: '{"command":"pwd"}' },
        { type: 'function_call_output', call_id: 'c1', output: 'a.txt' },
        { type: 'function_call_output', call_id: 'c2', output: '/tmp' },
        { type: 'function_call', call_id: 'c3', name: 'shell', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c3', output: 'x' },
        { type: 'message', role: 'assistant', content: 'Two files.' },
      ]);
    } else {
      const call = (id: string, args: string) => ({ id, type: 'function', function: { name: 'shell', arguments: args } });
      expect(body.messages).toEqual([
        { role: 'system', content: 'Use the shell.' },
        { role: 'user', content: [{ type: 'text', text: 'list files' }, { type: 'image_url', image_url: { url: dataUrl } }] },
        { role: 'assistant', content: 'Listing.', tool_calls: [call('c1', '{"command":"ls"}'), call('c2', '{"command":"pwd"}')] },
        { role: 'tool', tool_call_id: 'c1', content: 'a.txt' },
        { role: 'tool', tool_call_id: 'c2', content: '/tmp' },
        { role: 'assistant', content: null, tool_calls: [call('c3', '{}')] },
        { role: 'tool', tool_call_id: 'c3', content: 'x' },
        { role: 'assistant', content: 'Two files.' },
      ]);
    }
  });

  it('sends the output schema as structured output, and the fallback model for a conversation without one', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: '{"ok":true}' }] });
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false };
    await run(clientFor(api, m, { model: 'fallback-model' }), request({ model: 'local', outputSchema: schema }));
    const body = requestsOf(api, m)[0]?.body as Record<string, unknown>;
    expect(body.model).toBe('fallback-model');
    if (api === 'responses') expect(body.text).toEqual({ format: { type: 'json_schema', name: 'output', schema, strict: true } });
    else expect(body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
  });

  it('sends no Authorization header without a key', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'ok' }] });
    const client = api === 'responses' ? openaiResponsesClient({ baseURL: m.baseUrl }) : openaiChatClient({ baseURL: m.baseUrl });
    expect((await run(client)).error).toBeUndefined();
    expect(requestsOf(api, m)[0]?.headers.authorization).toBeUndefined();
  });

  it('a 429 with retry-after-ms is retried after exactly that wait', async () => {
    const m = await server();
    m.enqueue({ kind: 'error', status: 429, message: 'Rate limit reached', code: 'rate_limit_exceeded', headers: { 'retry-after-ms': '7' } });
    m.enqueue({ output: [{ type: 'message', text: 'after the wait' }] });
    const { events, error } = await run(clientFor(api, m));
    expect(error).toBeUndefined();
    expect(retrying(events)).toEqual([{ type: 'retrying', attempt: 1, delayMs: 7, message: expect.stringContaining('429 Rate limit reached') }]);
    expect(events.find((e) => e.type === 'text.done')).toEqual({ type: 'text.done', text: 'after the wait' });
    expect(requestsOf(api, m)).toHaveLength(2);
  });

  it('a 429 with retry-after (seconds) waits that many seconds', async () => {
    const m = await server();
    m.enqueue({ kind: 'error', status: 429, message: 'slow down', headers: { 'retry-after': '0.015' } });
    m.enqueue({ output: [{ type: 'message', text: 'ok' }] });
    const { events } = await run(clientFor(api, m));
    expect(retrying(events).map((e) => e.delayMs)).toEqual([15]);
  });

  it('a 500 is retried after a backoff with full jitter, then succeeds', async () => {
    const m = await server();
    m.enqueue({ kind: 'error', status: 500, message: 'boom' }, { kind: 'error', status: 503, message: 'busy' });
    m.enqueue({ output: [{ type: 'message', text: 'recovered' }] });
    // random() = 0.5: half of 4 ms, then half of 8 ms.
    const { events, error } = await run(clientFor(api, m, { baseDelayMs: 4, maxDelayMs: 100, random: () => 0.5 }));
    expect(error).toBeUndefined();
    expect(retrying(events)).toEqual([
      { type: 'retrying', attempt: 1, delayMs: 2, message: expect.stringContaining('500 boom') },
      { type: 'retrying', attempt: 2, delayMs: 4, message: expect.stringContaining('503 busy') },
    ]);
    expect(output(events).map((e) => e.type)).toEqual(['text.delta', 'text.done', 'usage']);
  });

  it('gives up after maxRetries: server_error for 5xx, rate_limited for 429', async () => {
    const m = await server();
    m.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'error' as const, status: 502, message: 'bad gateway' })));
    const first = await run(clientFor(api, m, { maxRetries: 2 }));
    expect(first.error).toBeInstanceOf(ModelError);
    expect(first.error).toMatchObject({ code: 'server_error', status: 502 });
    expect(retrying(first.events)).toHaveLength(2);
    m.enqueue(...Array.from({ length: 2 }, () => ({ kind: 'error' as const, status: 429, message: 'slow down', headers: { 'retry-after-ms': '1' } })));
    const second = await run(clientFor(api, m, { maxRetries: 1 }));
    expect(second.error).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(requestsOf(api, m)).toHaveLength(5);
  });

  it('a stream cut before any output is retried', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'lost' }], cutAfter: 1 });
    m.enqueue({ output: [{ type: 'message', text: 'second try' }] });
    const { events, error } = await run(clientFor(api, m));
    expect(error).toBeUndefined();
    expect(retrying(events)).toHaveLength(1);
    expect(output(events)).toEqual([
      { type: 'text.delta', delta: 'second try' },
      { type: 'text.done', text: 'second try' },
      { type: 'usage', usage: expect.any(Object) },
    ]);
  });

  it('a stream cut after text was yielded fails with network, without repeating the text', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'abc', chunks: ['a', 'b', 'c'] }], cutAfter: BEFORE_TEXT[api] + 1 });
    m.enqueue({ output: [{ type: 'message', text: 'must not be asked for' }] });
    const { events, error } = await run(clientFor(api, m));
    expect(events).toEqual([{ type: 'text.delta', delta: 'a' }]);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('network');
    expect(requestsOf(api, m)).toHaveLength(1);
    expect(m.pending).toBe(1);
  });

  it('a refused connection is retried, then fails with network', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    const options = { baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 2, baseDelayMs: 1, maxDelayMs: 2 };
    const client = api === 'responses' ? openaiResponsesClient(options) : openaiChatClient(options);
    const { events, error } = await run(client);
    expect(retrying(events)).toHaveLength(2);
    expect(error).toMatchObject({ code: 'network' });
  });

  it('aborting a slow stream ends the iterator quietly and closes the request', async () => {
    const m = await server();
    const chunks = Array.from({ length: 200 }, (_, i) => `${i} `);
    m.enqueue({ output: [{ type: 'message', text: chunks.join(''), chunks }], chunkDelayMs: 20 });
    const controller = new AbortController();
    const events: ModelEvent[] = [];
    for await (const event of clientFor(api, m).sample(request({ signal: controller.signal }))) {
      events.push(event);
      if (event.type === 'text.delta') controller.abort();
    }
    expect(events).toEqual([{ type: 'text.delta', delta: '0 ' }]);
    await m.waitForDisconnect(1, 5000);
    expect(m.disconnects).toBe(1);
  });

  it('a consumer that stops reading closes the request', async () => {
    const m = await server();
    const chunks = Array.from({ length: 200 }, (_, i) => `${i} `);
    m.enqueue({ output: [{ type: 'message', text: chunks.join(''), chunks }], chunkDelayMs: 20 });
    for await (const event of clientFor(api, m).sample(request())) {
      if (event.type === 'text.delta') break;
    }
    await m.waitForDisconnect(1, 5000);
  });

  it('a stream that goes silent for idleTimeoutMs counts as cut and is retried', async () => {
    const m = await server();
    m.enqueue({ kind: 'stall' }, { output: [{ type: 'message', text: 'awake' }] });
    const { events, error } = await run(clientFor(api, m, { idleTimeoutMs: 50 }));
    expect(error).toBeUndefined();
    expect(retrying(events)).toEqual([{ type: 'retrying', attempt: 1, delayMs: expect.any(Number), message: expect.stringContaining('sent nothing for 50 ms') }]);
    expect(events.find((e) => e.type === 'text.done')).toEqual({ type: 'text.done', text: 'awake' });
  });

  it('aborting during a retry wait ends the iterator quietly', async () => {
    const m = await server();
    m.enqueue({ kind: 'error', status: 429, message: 'wait a minute', headers: { 'retry-after': '60' } });
    const controller = new AbortController();
    const events: ModelEvent[] = [];
    for await (const event of clientFor(api, m).sample(request({ signal: controller.signal }))) {
      events.push(event);
      if (event.type === 'retrying') controller.abort();
    }
    expect(events).toEqual([{ type: 'retrying', attempt: 1, delayMs: 60_000, message: expect.any(String) }]);
    expect(requestsOf(api, m)).toHaveLength(1);
  });

  it('an already aborted request sends nothing', async () => {
    const m = await server();
    const controller = new AbortController();
    controller.abort();
    expect(await run(clientFor(api, m), request({ signal: controller.signal }))).toEqual({ events: [], error: undefined });
    expect(m.requests).toHaveLength(0);
  });

  it('context_length_exceeded (400) fails with context_window_exceeded, without retrying', async () => {
    const m = await server();
    m.enqueue({
      kind: 'error',
      status: 400,
      code: 'context_length_exceeded',
      type: 'invalid_request_error',
      message: 'Please shorten your input.',
    });
    const { error } = await run(clientFor(api, m));
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'context_window_exceeded', status: 400 });
    expect(requestsOf(api, m)).toHaveLength(1);
  });

  it('a 400 whose message says the maximum context length is exceeded fails with context_window_exceeded', async () => {
    const m = await server();
    m.enqueue({
      kind: 'error',
      status: 400,
      message: "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens (8000 in the messages, 1000 in the completion).",
    });
    expect((await run(clientFor(api, m))).error).toMatchObject({ code: 'context_window_exceeded' });
  });

  it('a failed stream with context_length_exceeded fails with context_window_exceeded', async () => {
    const m = await server();
    m.enqueue({ kind: 'failed', code: 'context_length_exceeded', message: 'Please shorten your input.' });
    const { events, error } = await run(clientFor(api, m));
    expect(error).toMatchObject({ code: 'context_window_exceeded' });
    expect(retrying(events)).toHaveLength(0);
  });

  it('a failed stream with a server error is retried', async () => {
    const m = await server();
    m.enqueue({ kind: 'failed', code: 'server_error', message: 'The server had an error processing your request.' });
    m.enqueue({ output: [{ type: 'message', text: 'fine now' }] });
    const { events, error } = await run(clientFor(api, m));
    expect(error).toBeUndefined();
    expect(retrying(events)).toHaveLength(1);
    expect(events.find((e) => e.type === 'text.done')).toEqual({ type: 'text.done', text: 'fine now' });
  });

  it('401 and 403 fail with unauthorized, other 4xx with bad_request, without retrying', async () => {
    const m = await server();
    m.enqueue(
      { kind: 'error', status: 401, message: 'Incorrect API key provided.', code: 'invalid_api_key' },
      { kind: 'error', status: 403, message: 'Forbidden.' },
      { kind: 'error', status: 404, message: 'The model `nope` does not exist.', code: 'model_not_found' },
    );
    const client = clientFor(api, m);
    const codes = [];
    for (let i = 0; i < 3; i++) {
      const { events, error } = await run(client);
      expect(retrying(events)).toHaveLength(0);
      expect(error).toBeInstanceOf(ModelError);
      codes.push([(error as ModelError).code, (error as ModelError).status]);
    }
    expect(codes).toEqual([
      ['unauthorized', 401],
      ['unauthorized', 403],
      ['bad_request', 404],
    ]);
    expect(requestsOf(api, m)).toHaveLength(3);
  });

  it('reports rate-limit headers once per response, merged with the previous figures', async () => {
    const m = await server();
    m.enqueue({
      output: [{ type: 'message', text: 'one' }],
      headers: {
        'x-ratelimit-limit-requests': '500',
        'x-ratelimit-remaining-requests': '499',
        'x-ratelimit-reset-requests': '120ms',
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '29000',
        'x-ratelimit-reset-tokens': '6m0s',
      },
    });
    m.enqueue({ output: [{ type: 'message', text: 'two' }], headers: { 'x-ratelimit-remaining-requests': '498', 'x-ratelimit-reset-requests': '1s' } });
    m.enqueue({ output: [{ type: 'message', text: 'three' }] });
    const client = clientFor(api, m);
    const first = await run(client);
    expect(first.events.filter((e) => e.type === 'rate_limits')).toEqual([
      {
        type: 'rate_limits',
        snapshot: { requests: { limit: 500, remaining: 499, reset_ms: 120 }, tokens: { limit: 30000, remaining: 29000, reset_ms: 360_000 } },
      },
    ]);
    expect(first.events[0]?.type).toBe('rate_limits');
    const second = await run(client);
    expect(second.events.filter((e) => e.type === 'rate_limits')).toEqual([
      {
        type: 'rate_limits',
        snapshot: { requests: { limit: 500, remaining: 498, reset_ms: 1000 }, tokens: { limit: 30000, remaining: 29000, reset_ms: 360_000 } },
      },
    ]);
    const third = await run(client);
    expect(third.events.filter((e) => e.type === 'rate_limits')).toEqual([]);
    expect(client.rateLimits).toEqual({ requests: { limit: 500, remaining: 498, reset_ms: 1000 }, tokens: { limit: 30000, remaining: 29000, reset_ms: 360_000 } });
  });
});

describe('reasoning settings', () => {
  it('are sent as reasoning (Responses) and reasoning_effort (Chat)', async () => {
    const m = await server();
    m.enqueue({ output: [{ type: 'message', text: 'ok' }] }, { output: [{ type: 'message', text: 'ok' }] });
    await run(clientFor('responses', m, { reasoning: { effort: 'low', summary: 'auto' } }));
    await run(clientFor('chat', m, { reasoning: { effort: 'low', summary: 'auto' } }));
    expect(m.responseRequests()[0]?.body).toMatchObject({ reasoning: { effort: 'low', summary: 'auto' } });
    expect(m.chatRequests()[0]?.body).toMatchObject({ reasoning_effort: 'low' });
  });
});
