/**
 * Choosing a model client from settings and the environment (`modelClientFromConfig`), and
 * the model agent with a real client against the mock server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { modelAgent } from '../../../src/agents/model/agent.js';
import { DEFAULT_OPENAI_MODEL, modelClientFromConfig, resolveModelConfig } from '../../../src/agents/model/config.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { createRuntime } from '../../../src/runtime/runtime.js';
import { startMockResponses, type MockResponsesServer } from '../../support/mock-responses.js';

let mock: MockResponsesServer | null = null;
afterEach(async () => {
  await mock?.close();
  mock = null;
});

describe('resolveModelConfig', () => {
  it('defaults to OpenAI: its base URL, the Responses API, the default model, no key', () => {
    expect(resolveModelConfig({}, {})).toEqual({ wireApi: 'responses', baseURL: 'https://api.openai.com/v1', model: DEFAULT_OPENAI_MODEL });
  });

  it('takes OPENAI_BASE_URL and the key from CODEX_API_KEY, else OPENAI_API_KEY', () => {
    const env = { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_API_KEY: 'sk-openai', CODEX_API_KEY: 'sk-codex' };
    expect(resolveModelConfig({}, env)).toEqual({ wireApi: 'responses', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-codex' });
    expect(resolveModelConfig({}, { OPENAI_API_KEY: 'sk-openai' })).toMatchObject({ apiKey: 'sk-openai' });
    expect(resolveModelConfig({ apiKey: 'sk-given', baseUrl: 'http://h/v1', wireApi: 'chat', model: 'm' }, env)).toEqual({
      wireApi: 'chat',
      baseURL: 'http://h/v1',
      apiKey: 'sk-given',
      model: 'm',
    });
    expect(resolveModelConfig({ apiKey: null }, env)).not.toHaveProperty('apiKey');
  });

  it('knows ollama and lmstudio (Chat Completions, local, no key even when one is in the environment)', () => {
    const env = { OPENAI_API_KEY: 'sk-openai', OPENAI_BASE_URL: 'http://elsewhere/v1' };
    expect(resolveModelConfig({ provider: 'ollama' }, env)).toEqual({ wireApi: 'chat', baseURL: 'http://localhost:11434/v1' });
    expect(resolveModelConfig({ provider: 'lmstudio', wireApi: 'responses' }, env)).toEqual({ wireApi: 'responses', baseURL: 'http://localhost:1234/v1' });
    expect(() => resolveModelConfig({ provider: 'nope' }, env)).toThrow(/unknown model provider "nope"/);
  });

  it('picks the adapter by wire API', () => {
    expect(modelClientFromConfig({ baseUrl: 'http://127.0.0.1:9/v1' }, {}).wireApi).toBe('responses');
    const chat = modelClientFromConfig({ wireApi: 'chat' }, { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    expect(chat.wireApi).toBe('chat');
    expect(chat.baseURL).toBe('http://127.0.0.1:9/v1');
  });
});

describe.each(['responses', 'chat'] as const)('modelAgent over the %s client', (wireApi) => {
  it('runs a turn with a tool call and answers from the model', async () => {
    mock = await startMockResponses({
      script: [
        { output: [{ type: 'function_call', name: 'shell', arguments: { command: "printf '%s-%s' from tool" }, callId: 'call_1' }] },
        (request) => {
          const body = request.body as { input?: { type?: string; output?: string }[]; messages?: { role?: string; content?: string }[] };
          const output = body.input?.find((i) => i.type === 'function_call_output')?.output ?? body.messages?.find((m) => m.role === 'tool')?.content ?? '';
          return { output: [{ type: 'message', text: output.includes('from-tool') ? 'The tool said from-tool.' : `no tool output in ${JSON.stringify(body)}` }] };
        },
      ],
    });
    const client = modelClientFromConfig({ wireApi, baseUrl: mock.baseUrl, apiKey: 'k', baseDelayMs: 1 }, {});
    const runtime = createRuntime({ store: new MemoryStore(), agent: modelAgent({ client }) });
    try {
      const convo = await runtime.start({ model: 'mock-model', approvalPolicy: 'never' });
      const result = await convo.run('say it');
      expect(result.finalResponse).toBe('The tool said from-tool.');
      expect(result.usage).toMatchObject({ input_tokens: 20, output_tokens: 10 });
      expect(wireApi === 'responses' ? mock.responseRequests() : mock.chatRequests()).toHaveLength(2);
    } finally {
      await runtime.shutdown();
    }
  });
});
