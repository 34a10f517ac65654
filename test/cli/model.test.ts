/**
 * The built `colloquy` executable with the model agent, against the loopback mock OpenAI
 * server: model selection by `--config`, `-m` and the environment, the Codex exec JSONL of a
 * model turn, resume, retries, and the unmodified `@openai/codex-sdk` driving a model turn.
 */
import { Codex } from '@openai/codex-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startMockResponses, type MockResponsesServer, type RecordedRequest } from '../support/mock-responses.js';
import { CLI, cliEnv, jsonLines, removeTempDirs, runCli, tempDir, threadIdOf, ULID } from './helpers.js';

const USAGE = { input_tokens: 21, cached_input_tokens: 3, output_tokens: 7, reasoning_output_tokens: 2 };
const answer = (text: string) => ({ output: [{ type: 'message' as const, text, chunks: [text.slice(0, 5), text.slice(5)] }], usage: USAGE });

/** No key or base URL from the environment the tests run in: each test sets what it means. */
const NO_MODEL_ENV = { OPENAI_BASE_URL: '', OPENAI_API_KEY: '', CODEX_API_KEY: '' };

let mock: MockResponsesServer;
let home: string;
beforeEach(async () => {
  mock = await startMockResponses();
  home = await tempDir();
});
afterEach(async () => {
  await mock.close();
  await removeTempDirs();
});

/** `colloquy exec --json …` with the mock server as `openai_base_url`. */
function exec(args: readonly string[], env: Record<string, string> = {}) {
  return runCli(['exec', '--json', '--skip-git-repo-check', ...args], { home, env: { ...NO_MODEL_ENV, ...env } });
}

const baseUrlFlag = (): string[] => ['--config', `openai_base_url="${mock.baseUrl}"`];

/** The text of every message of a request's input (Responses `input` or Chat `messages`). */
function promptTexts(request: RecordedRequest | undefined): string[] {
  const body = (request?.body ?? {}) as { input?: unknown; messages?: unknown };
  const entries = (Array.isArray(body.input) ? body.input : Array.isArray(body.messages) ? body.messages : []) as { role?: string; content?: unknown }[];
  return entries.flatMap((entry) => {
    if (typeof entry.content === 'string') return [`${entry.role}: ${entry.content}`];
    if (Array.isArray(entry.content)) return entry.content.map((part: { text?: string }) => `${entry.role}: ${part.text ?? ''}`);
    return [];
  });
}

describe('colloquy exec with a model', () => {
  it('--config openai_base_url and -m: the Codex exec JSONL of a model turn; the server saw the model and the prompt', async () => {
    mock.enqueue(answer('Hello from the model.'));
    const result = await exec([...baseUrlFlag(), '-m', 'some-model', 'hi']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
    expect(lines).toEqual([
      { type: 'thread.started', thread_id: expect.stringMatching(ULID) },
      { type: 'turn.started' },
      { type: 'item.completed', item: { id: expect.any(String), type: 'agent_message', text: 'Hello from the model.' } },
      { type: 'turn.completed', usage: USAGE },
    ]);
    const requests = mock.responseRequests();
    expect(requests).toHaveLength(1);
    expect(mock.chatRequests()).toHaveLength(0);
    expect(requests[0]?.body).toMatchObject({ model: 'some-model', stream: true });
    expect(promptTexts(requests[0])).toEqual(['user: hi']);
    // No key anywhere: no Authorization header.
    expect(requests[0]?.headers.authorization).toBeUndefined();
  });

  it('wire_api="chat" sends the turn to /chat/completions', async () => {
    mock.enqueue(answer('Hello over chat.'));
    const result = await exec([...baseUrlFlag(), '--config', 'wire_api="chat"', '-m', 'chat-model', 'hi']);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { type: 'agent_message', text: 'Hello over chat.' } });
    expect(jsonLines(result.stdout).at(-1)).toEqual({ type: 'turn.completed', usage: USAGE });
    expect(mock.responseRequests()).toHaveLength(0);
    const [request] = mock.chatRequests();
    expect(request?.path).toBe('/v1/chat/completions');
    expect(request?.body).toMatchObject({ model: 'chat-model', stream: true });
    expect(promptTexts(request)).toEqual(['user: hi']);
  });

  it('OPENAI_BASE_URL and OPENAI_API_KEY in the environment select the model agent; the key arrives as the bearer', async () => {
    mock.enqueue(answer('Chosen by the environment.'));
    const result = await exec(['-m', 'env-model', 'hi'], { OPENAI_BASE_URL: mock.baseUrl, OPENAI_API_KEY: 'sk-from-env' });
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { text: 'Chosen by the environment.' } });
    const [request] = mock.responseRequests();
    expect(request?.headers.authorization).toBe('Bearer sk-from-env');
    expect(request?.body).toMatchObject({ model: 'env-model' });
  });

  it('a provider table: its base URL and API, and its key from its env_key only', async () => {
    mock.enqueue(answer('From my provider.'));
    const provider = `model_providers.mine={ base_url = "${mock.baseUrl}", wire_api = "chat", env_key = "MINE_KEY", http_headers = { x-team = "research" } }`;
    const result = await exec(['--config', 'model_provider="mine"', '--config', provider, '-m', 'mine-model', 'hi'], {
      MINE_KEY: 'sk-mine',
      OPENAI_API_KEY: 'sk-not-this-one',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { text: 'From my provider.' } });
    const [request] = mock.chatRequests();
    expect(request?.headers.authorization).toBe('Bearer sk-mine');
    expect(request?.headers['x-team']).toBe('research');
    expect(request?.body).toMatchObject({ model: 'mine-model' });
  });

  it('--config agent="local" keeps the local agent even with OPENAI_BASE_URL set', async () => {
    const result = await exec(['--config', 'agent="local"', 'hi'], { OPENAI_BASE_URL: mock.baseUrl, OPENAI_API_KEY: 'sk-from-env' });
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { text: expect.stringContaining('You said: "hi"') } });
    expect(mock.requests).toHaveLength(0);
  });

  it('without any model setting the local agent answers and nothing reaches the server', async () => {
    const result = await exec(['hi']);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { type: 'agent_message', text: expect.stringContaining('You said: "hi"') } });
    expect(mock.requests).toHaveLength(0);
  });

  it('resume sends the earlier turn\'s history to the model', async () => {
    mock.enqueue(answer('Nice to meet you, Ada.'), answer('Your name is Ada.'));
    const first = await exec([...baseUrlFlag(), '-m', 'some-model', 'My name is Ada.']);
    expect(first.code).toBe(0);
    const id = threadIdOf(first.stdout);

    const second = await exec([...baseUrlFlag(), 'resume', id, 'What is my name?']);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(threadIdOf(second.stdout)).toBe(id);
    expect(jsonLines(second.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { text: 'Your name is Ada.' } });
    const requests = mock.responseRequests();
    expect(requests).toHaveLength(2);
    // The conversation's model was kept; the history came before the new message.
    expect(requests[1]?.body).toMatchObject({ model: 'some-model' });
    expect(promptTexts(requests[1])).toEqual(['user: My name is Ada.', 'assistant: Nice to meet you, Ada.', 'user: What is my name?']);
    // Usage is cumulative over the conversation, as Codex reports it.
    expect(jsonLines(second.stdout).at(-1)).toEqual({
      type: 'turn.completed',
      usage: { input_tokens: 42, cached_input_tokens: 6, output_tokens: 14, reasoning_output_tokens: 4 },
    });
  }, 40_000);

  it('a 500 and then a success: the request is retried and the turn completes', async () => {
    mock.enqueue({ kind: 'error', status: 500, message: 'the server had an error' }, answer('Second time lucky.'));
    const result = await exec([...baseUrlFlag(), '-m', 'some-model', 'hi']);
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout).find((l) => l.type === 'item.completed')).toMatchObject({ item: { text: 'Second time lucky.' } });
    expect(jsonLines(result.stdout).at(-1)).toEqual({ type: 'turn.completed', usage: USAGE });
    const requests = mock.responseRequests();
    expect(requests).toHaveLength(2);
    expect(requests[1]?.body).toEqual(requests[0]?.body);
  });

  it('a request that keeps failing fails the turn: turn.failed with the error, exit 1', async () => {
    mock.enqueue({ kind: 'error', status: 400, message: 'model "nope" does not exist' });
    const result = await exec([...baseUrlFlag(), '-m', 'nope', 'hi']);
    expect(result.code).toBe(1);
    const lines = jsonLines(result.stdout);
    expect(lines.map((l) => l.type)).toEqual(['thread.started', 'turn.started', 'turn.failed']);
    expect(lines.at(-1)).toEqual({ type: 'turn.failed', error: { message: expect.stringContaining('model "nope" does not exist') } });
    expect(mock.responseRequests()).toHaveLength(1);
  });
});

describe('@openai/codex-sdk driving a model turn through colloquy', () => {
  it('new Codex({ codexPathOverride, baseUrl, apiKey }) runs a turn against the server and resumes it', async () => {
    mock.enqueue(answer('Hello, SDK.'), answer('Still here.'));
    const codex = new Codex({ codexPathOverride: CLI, baseUrl: mock.baseUrl, apiKey: 'sk-sdk', env: cliEnv(home, NO_MODEL_ENV) });
    const thread = codex.startThread({ model: 'sdk-model', skipGitRepoCheck: true });
    const turn = await thread.run('hi');
    expect(turn.finalResponse).toBe('Hello, SDK.');
    expect(turn.items).toEqual([{ id: expect.any(String), type: 'agent_message', text: 'Hello, SDK.' }]);
    expect(turn.usage).toMatchObject(USAGE);
    expect(thread.id).toMatch(ULID);
    const [request] = mock.responseRequests();
    expect(request?.headers.authorization).toBe('Bearer sk-sdk');
    expect(request?.body).toMatchObject({ model: 'sdk-model' });
    expect(promptTexts(request)).toEqual(['user: hi']);

    const again = await thread.run('again');
    expect(again.finalResponse).toBe('Still here.');
    expect(promptTexts(mock.responseRequests()[1])).toEqual(['user: hi', 'assistant: Hello, SDK.', 'user: again']);
  }, 40_000);
});
