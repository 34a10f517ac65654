/**
 * A loopback fake of the OpenAI Responses and Chat Completions APIs, for driving real clients
 * (the Codex CLI, the `openai` package, OpenAI-compatible agents) without a network or an API key.
 *
 * - `POST /v1/responses` answers with the next scripted response, streamed as server-sent
 *   events in the Responses API's shape (`response.created`, `response.output_item.added`,
 *   `response.output_text.delta`, `response.output_item.done`, `response.completed`).
 * - `POST /v1/chat/completions` answers with the next scripted response (the same queue),
 *   streamed as `chat.completion.chunk`s: a role chunk, content (and `reasoning_content`)
 *   deltas, tool call deltas by `index` (the arguments in two pieces, interleaved across
 *   parallel calls), a chunk with `finish_reason`, a usage chunk (`choices: []`), `[DONE]`.
 * - `GET /v1/models` answers with a small model list.
 * - Anything else is 404. Every request is recorded (method, path, headers, parsed JSON body).
 *
 * A scripted response is a value or a function of the request (to answer from what the client
 * sent, e.g. the names of the tools it offers). A `stall` response sends `response.created`
 * (or the role chunk) and then nothing, until the client goes away or the server closes: the
 * way to catch a client in the middle of a turn. With the queue empty, `fallback` answers
 * (default: an HTTP 500 that names the request, so a test that scripted too few responses
 * fails visibly).
 *
 * Failure modes, for testing clients: an HTTP `error` with any status, body `code` and
 * headers (a 429 with `retry-after`, a 500, a 400 `context_length_exceeded`); a `failed`
 * response (Responses: `response.failed` with an error code; Chat: an error chunk); a stream
 * `cutAfter` some events (the socket destroyed); a slow stream (`chunkDelayMs` between
 * events); response `headers` (e.g. `x-ratelimit-*`) on a successful stream. The server counts
 * responses the client hung up on before they ended (`disconnects`).
 *
 * It listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Token usage reported in `response.completed` (tokens). */
export interface MockUsage {
  readonly input_tokens: number;
  readonly cached_input_tokens?: number;
  readonly output_tokens: number;
  readonly reasoning_output_tokens?: number;
}

/** One output item of a scripted response. */
export type MockOutput =
  /** An assistant message; `chunks` (which should join to `text`) are streamed as separate deltas. Default: one delta. */
  | { readonly type: 'message'; readonly text: string; readonly chunks?: readonly string[] }
  /**
   * A reasoning summary. With `chunks`, the Responses stream sends them as
   * `response.reasoning_summary_text.delta` events (without, only the finished item); Chat
   * sends them (or the whole summary) as `reasoning_content` deltas.
   */
  | { readonly type: 'reasoning'; readonly summary: string; readonly chunks?: readonly string[] }
  /** A function tool call; `arguments` is sent as a JSON string, as the API does. */
  | { readonly type: 'function_call'; readonly name: string; readonly arguments: unknown; readonly callId: string };

/** What one `POST /v1/responses` (or `POST /v1/chat/completions`) answers. */
export type MockResponse =
  | {
      readonly kind?: 'stream';
      readonly output: readonly MockOutput[];
      /** Default: 10 input, 5 output tokens. */
      readonly usage?: MockUsage;
      /** Wait this long before streaming (ms). */
      readonly delayMs?: number;
      /** Wait this long between events (ms): a slow stream. */
      readonly chunkDelayMs?: number;
      /** Destroy the socket after this many events (0: right after the headers): a stream cut mid-way. */
      readonly cutAfter?: number;
      /** Extra response headers, e.g. `x-ratelimit-remaining-requests`. */
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** Send `response.created` (Chat: the role chunk), then nothing more: the client waits until it gives up. */
  | { readonly kind: 'stall' }
  /**
   * An HTTP error with a JSON body `{ error: { message, type, code } }` and `headers` (e.g.
   * `retry-after`, `retry-after-ms`). `code` default null; `type` default `mock_error`.
   */
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly message: string;
      readonly code?: string;
      readonly type?: string;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /**
   * A stream that fails: Responses sends `response.created`, then `response.failed` with
   * `error: { code, message }`; Chat sends an error chunk `{ error: { message, code } }`.
   */
  | { readonly kind: 'failed'; readonly code: string; readonly message: string; readonly headers?: Readonly<Record<string, string>> };

/** A request the server received. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body parsed as JSON, or the raw text when it is not JSON (`undefined` when empty). */
  readonly body: unknown;
}

/** A scripted response, or a function choosing one from the request it answers. */
export type MockStep = MockResponse | ((request: RecordedRequest) => MockResponse);

export interface MockResponsesOptions {
  /** Responses to give, in order. More can be added with `enqueue`. */
  readonly script?: readonly MockStep[];
  /** Answer when the queue is empty. Default: HTTP 500 naming the unexpected request. */
  readonly fallback?: MockStep;
  /** Model ids `GET /v1/models` lists. Default `['mock-model']`. */
  readonly models?: readonly string[];
  /** Port to listen on. Default 0 (any free port). */
  readonly port?: number;
}

/** A running mock server. */
export interface MockResponsesServer {
  /** `http://127.0.0.1:<port>/v1`: pass it as the client's base URL. */
  readonly baseUrl: string;
  readonly port: number;
  /** Every request so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** The `POST /v1/responses` requests so far. */
  responseRequests(): RecordedRequest[];
  /** The `POST /v1/chat/completions` requests so far. */
  chatRequests(): RecordedRequest[];
  /** Add responses to the end of the queue. */
  enqueue(...steps: MockStep[]): void;
  /** Scripted responses not yet given. */
  readonly pending: number;
  /** Resolves when a `POST /v1/responses` (or chat completion) is stalled (at least `count` of them so far). */
  waitForStall(count?: number, timeoutMs?: number): Promise<void>;
  /** Streamed responses the client closed before the server ended them. */
  readonly disconnects: number;
  /** Resolves once the client has closed at least `count` streamed responses early. */
  waitForDisconnect(count?: number, timeoutMs?: number): Promise<void>;
  /** End stalled streams, stop listening, and wait for the server to close. */
  close(): Promise<void>;
}

const DEFAULT_USAGE: MockUsage = { input_tokens: 10, output_tokens: 5 };

/** One server-sent event of the Responses API. */
function sseFrame(event: Record<string, unknown> & { type: string }): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** One `data:` frame (Chat Completions has no `event:` lines). */
function dataFrame(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** The Responses API's `usage` object. */
function usageOf(u: MockUsage): Record<string, unknown> {
  return {
    input_tokens: u.input_tokens,
    input_tokens_details: { cached_tokens: u.cached_input_tokens ?? 0 },
    output_tokens: u.output_tokens,
    output_tokens_details: { reasoning_tokens: u.reasoning_output_tokens ?? 0 },
    total_tokens: u.input_tokens + u.output_tokens,
  };
}

/** Chat Completions' `usage` object. */
function chatUsageOf(u: MockUsage): Record<string, unknown> {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.input_tokens + u.output_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_input_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_output_tokens ?? 0 },
  };
}

/** The arguments of a scripted function call, as the JSON text the API sends. */
function argumentsText(out: { readonly arguments: unknown }): string {
  return typeof out.arguments === 'string' ? out.arguments : JSON.stringify(out.arguments);
}

/** The API item for a scripted output (as it appears in `response.output_item.done`). */
function itemOf(out: MockOutput, id: string): Record<string, unknown> {
  switch (out.type) {
    case 'message':
      return {
        type: 'message',
        id,
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: out.text, annotations: [] }],
      };
    case 'reasoning':
      return { type: 'reasoning', id, summary: [{ type: 'summary_text', text: out.summary }] };
    case 'function_call':
      return {
        type: 'function_call',
        id,
        status: 'completed',
        call_id: out.callId,
        name: out.name,
        arguments: argumentsText(out),
      };
  }
}

/** The SSE frames of a streamed Responses API answer. */
function responsesFrames(response: { readonly output: readonly MockOutput[]; readonly usage?: MockUsage }, n: number): string[] {
  const id = `resp_mock_${n}`;
  const frames: string[] = [sseFrame({ type: 'response.created', response: { id, object: 'response', status: 'in_progress', output: [] } })];
  const items: Record<string, unknown>[] = [];
  response.output.forEach((out, index) => {
    const item = itemOf(out, `${out.type === 'message' ? 'msg' : out.type === 'reasoning' ? 'rs' : 'fc'}_mock_${n}_${index}`);
    items.push(item);
    frames.push(sseFrame({ type: 'response.output_item.added', output_index: index, item: { ...item, status: 'in_progress' } }));
    if (out.type === 'message') {
      for (const delta of out.chunks ?? [out.text]) {
        frames.push(sseFrame({ type: 'response.output_text.delta', output_index: index, content_index: 0, item_id: item.id, delta }));
      }
    }
    if (out.type === 'reasoning' && out.chunks) {
      for (const delta of out.chunks) {
        frames.push(sseFrame({ type: 'response.reasoning_summary_text.delta', output_index: index, summary_index: 0, item_id: item.id, delta }));
      }
    }
    frames.push(sseFrame({ type: 'response.output_item.done', output_index: index, item }));
  });
  frames.push(
    sseFrame({
      type: 'response.completed',
      response: { id, object: 'response', status: 'completed', output: items, usage: usageOf(response.usage ?? DEFAULT_USAGE) },
    }),
  );
  return frames;
}

/** The SSE frames of a streamed Chat Completions answer. */
function chatFrames(response: { readonly output: readonly MockOutput[]; readonly usage?: MockUsage }, n: number, model: string): string[] {
  const base = { id: `chatcmpl_mock_${n}`, object: 'chat.completion.chunk', created: 0, model };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
    dataFrame({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const frames: string[] = [chunk({ role: 'assistant', content: '' })];
  const calls = response.output.filter((o): o is Extract<MockOutput, { type: 'function_call' }> => o.type === 'function_call');
  for (const out of response.output) {
    if (out.type === 'reasoning') for (const delta of out.chunks ?? [out.summary]) frames.push(chunk({ reasoning_content: delta }));
    if (out.type === 'message') for (const delta of out.chunks ?? [out.text]) frames.push(chunk({ content: delta }));
  }
  // Tool calls: each one's id and name, then the arguments in two halves, interleaved across calls.
  calls.forEach((call, index) => {
    frames.push(chunk({ tool_calls: [{ index, id: call.callId, type: 'function', function: { name: call.name, arguments: '' } }] }));
  });
  const halves = calls.map((call) => {
    const text = argumentsText(call);
    const mid = Math.ceil(text.length / 2);
    return [text.slice(0, mid), text.slice(mid)] as const;
  });
  for (const half of [0, 1] as const) {
    halves.forEach((parts, index) => {
      if (parts[half] !== '') frames.push(chunk({ tool_calls: [{ index, function: { arguments: parts[half] } }] }));
    });
  }
  frames.push(chunk({}, calls.length > 0 ? 'tool_calls' : 'stop'));
  frames.push(dataFrame({ ...base, choices: [], usage: chatUsageOf(response.usage ?? DEFAULT_USAGE) }));
  frames.push(dataFrame('[DONE]'));
  return frames;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' } as const;

/** Waiters for a counter to reach a value. */
class Counter {
  value = 0;
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  bump(): void {
    this.value++;
    for (const w of this.#waiters.splice(0)) {
      if (this.value >= w.count) w.resolve();
      else this.#waiters.push(w);
    }
  }
  wait(count: number, timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.value >= count) return resolve();
      const timer = setTimeout(() => reject(new Error(`mock-responses: ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/**
 * Start a mock Responses (and Chat Completions) API server on 127.0.0.1.
 * @example
 * const mock = await startMockResponses({ script: [{ output: [{ type: 'message', text: 'hi' }] }] });
 * // point the client at mock.baseUrl …
 * await mock.close();
 */
export async function startMockResponses(options: MockResponsesOptions = {}): Promise<MockResponsesServer> {
  const queue: MockStep[] = [...(options.script ?? [])];
  const requests: RecordedRequest[] = [];
  const stalled = new Set<ServerResponse>();
  // Responses the server itself ends abruptly (a cut, a close): not the client's disconnects.
  const destroyedHere = new WeakSet<ServerResponse>();
  const stalls = new Counter();
  const disconnects = new Counter();
  let responseNo = 0;
  const models = options.models ?? ['mock-model'];

  const fallback: MockStep =
    options.fallback ??
    ((r) => ({ kind: 'error', status: 500, message: `mock-responses: no scripted response left for request ${requests.indexOf(r) + 1}` }));

  const watch = (res: ServerResponse): void => {
    res.on('close', () => {
      stalled.delete(res);
      if (!res.writableEnded && !destroyedHere.has(res)) disconnects.bump();
    });
  };

  const answer = async (res: ServerResponse, response: MockResponse, api: 'responses' | 'chat', request: RecordedRequest): Promise<void> => {
    const n = ++responseNo;
    if (response.kind === 'error') {
      res.writeHead(response.status, { 'content-type': 'application/json', ...response.headers });
      res.end(JSON.stringify({ error: { message: response.message, type: response.type ?? 'mock_error', ...(response.code !== undefined ? { code: response.code } : {}) } }));
      return;
    }
    const model = (request.body as { model?: unknown } | undefined)?.model;
    const modelName = typeof model === 'string' ? model : 'mock-model';
    const chatBase = { id: `chatcmpl_mock_${n}`, object: 'chat.completion.chunk', created: 0, model: modelName };
    const created =
      api === 'responses'
        ? sseFrame({ type: 'response.created', response: { id: `resp_mock_${n}`, object: 'response', status: 'in_progress', output: [] } })
        : dataFrame({ ...chatBase, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    res.writeHead(200, { ...SSE_HEADERS, ...(response.kind !== 'stall' ? response.headers : {}) });
    watch(res);
    if (response.kind === 'stall') {
      res.write(created);
      stalled.add(res);
      stalls.bump();
      return;
    }
    if (response.kind === 'failed') {
      if (api === 'responses') {
        res.write(created);
        res.write(
          sseFrame({
            type: 'response.failed',
            response: { id: `resp_mock_${n}`, object: 'response', status: 'failed', output: [], error: { code: response.code, message: response.message } },
          }),
        );
      } else {
        res.write(dataFrame({ error: { message: response.message, type: 'mock_error', code: response.code } }));
      }
      res.end();
      return;
    }
    if (response.delayMs) await delay(response.delayMs);
    const frames = api === 'responses' ? responsesFrames(response, n) : chatFrames(response, n, modelName);
    // Each frame is flushed before the next (so a cut drops the connection after exactly these).
    const write = (frame: string): Promise<void> => new Promise((resolve) => res.write(frame, () => resolve()));
    for (const [i, frame] of frames.entries()) {
      if (res.destroyed) return;
      if (response.cutAfter !== undefined && i >= response.cutAfter) break;
      if (i > 0 && response.chunkDelayMs) {
        await delay(response.chunkDelayMs);
        if (res.destroyed) return;
      }
      await write(frame);
    }
    if (response.cutAfter !== undefined) {
      // Drop the connection without ending the chunked body.
      destroyedHere.add(res);
      res.socket?.destroy();
      res.destroy();
      return;
    }
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path, headers: { ...req.headers }, body };
    requests.push(recorded);
    const api = recorded.method !== 'POST' ? null : path.endsWith('/responses') ? 'responses' : path.endsWith('/chat/completions') ? 'chat' : null;
    if (api) {
      const step = queue.shift() ?? fallback;
      await answer(res, typeof step === 'function' ? step(recorded) : step, api, recorded);
      return;
    }
    if (recorded.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: models.map((m) => ({ id: m, object: 'model', created: 0, owned_by: 'mock' })), models: [] }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `mock-responses: no route for ${recorded.method} ${path}` } }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.destroyed) return;
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `mock-responses: ${err instanceof Error ? err.message : String(err)}` } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    responseRequests: () => requests.filter((r) => r.method === 'POST' && r.path.endsWith('/responses')),
    chatRequests: () => requests.filter((r) => r.method === 'POST' && r.path.endsWith('/chat/completions')),
    enqueue: (...steps) => void queue.push(...steps),
    get pending() {
      return queue.length;
    },
    waitForStall: (count = 1, timeoutMs = 30_000) => stalls.wait(count, timeoutMs, 'no stalled response'),
    get disconnects() {
      return disconnects.value;
    },
    waitForDisconnect: (count = 1, timeoutMs = 30_000) => disconnects.wait(count, timeoutMs, 'the client did not hang up'),
    close: async () => {
      for (const res of stalled) {
        destroyedHere.add(res);
        res.destroy();
      }
      stalled.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
