/**
 * The mock Responses API server: scripted answers streamed as server-sent events, requests
 * recorded, stalls, errors and the empty-queue fallback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startMockResponses, type MockResponsesServer } from './mock-responses.js';

let server: MockResponsesServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** The `data:` objects of an SSE body. */
function events(body: string): Record<string, unknown>[] {
  return body
    .split('\n\n')
    .map((block) => block.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice('data: '.length)) as Record<string, unknown>);
}

const post = (base: string, body: unknown): Promise<Response> =>
  fetch(`${base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('startMockResponses', () => {
  it('streams the scripted responses in order, in the Responses API event shape, and records the requests', async () => {
    server = await startMockResponses({
      script: [
        { output: [{ type: 'reasoning', summary: 'thinking' }, { type: 'message', text: 'hello' }], usage: { input_tokens: 7, output_tokens: 2, cached_input_tokens: 3 } },
        (request) => ({ output: [{ type: 'function_call', name: 'exec_command', arguments: { cmd: `echo ${(request.body as { n: number }).n}` }, callId: 'c1' }] }),
      ],
    });
    expect(server.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const first = await post(server.baseUrl, { n: 1 });
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    const a = events(await first.text());
    expect(a.map((e) => e.type)).toEqual([
      'response.created',
      'response.output_item.added',
      'response.output_item.done',
      'response.output_item.added',
      'response.output_text.delta',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(a[5]?.item).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'hello' }] });
    expect((a[6]?.response as { usage: unknown }).usage).toEqual({
      input_tokens: 7,
      input_tokens_details: { cached_tokens: 3 },
      output_tokens: 2,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 9,
    });
    const b = events(await (await post(server.baseUrl, { n: 42 })).text());
    expect(b.find((e) => e.type === 'response.output_item.done')?.item).toMatchObject({
      type: 'function_call',
      name: 'exec_command',
      call_id: 'c1',
      arguments: '{"cmd":"echo 42"}',
    });
    expect(server.responseRequests().map((r) => r.body)).toEqual([{ n: 1 }, { n: 42 }]);
    expect(server.pending).toBe(0);
  });

  it('answers 500 naming the request when the script is used up, and 404 for unknown routes; lists models', async () => {
    server = await startMockResponses({ models: ['m1'] });
    const none = await post(server.baseUrl, {});
    expect(none.status).toBe(500);
    expect(await none.json()).toEqual({ error: { message: 'mock-responses: no scripted response left for request 1', type: 'mock_error' } });
    expect((await fetch(`${server.baseUrl}/nope`)).status).toBe(404);
    const models = (await (await fetch(`${server.baseUrl}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['m1']);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /v1/responses', 'GET /v1/nope', 'GET /v1/models']);
  });

  it('a stall sends response.created and then holds the stream until close', async () => {
    server = await startMockResponses({ script: [{ kind: 'stall' }, { kind: 'error', status: 429, message: 'slow down' }] });
    const response = await post(server.baseUrl, {});
    await server.waitForStall(1, 5000);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const chunk = await reader.read();
    expect(new TextDecoder().decode(chunk.value)).toContain('"type":"response.created"');
    const error = await post(server.baseUrl, {});
    expect(error.status).toBe(429);
    await server.close();
    server = null;
    // The stream ends (aborted) once the server closes.
    expect(await reader.read().then((r) => r.done, () => true)).toBe(true);
  });
});
