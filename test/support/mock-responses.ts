/**
 * A loopback fake of the OpenAI Responses API, for driving real clients (the Codex CLI,
 * OpenAI-compatible agents) without a network or an API key.
 *
 * - `POST /v1/responses` answers with the next scripted response, streamed as server-sent
 *   events in the Responses API's shape (`response.created`, `response.output_item.added`,
 *   `response.output_text.delta`, `response.output_item.done`, `response.completed`).
 * - `GET /v1/models` answers with a small model list.
 * - Anything else is 404. Every request is recorded (method, path, headers, parsed JSON body).
 *
 * A scripted response is a value or a function of the request (to answer from what the client
 * sent, e.g. the names of the tools it offers). A `stall` response sends `response.created`
 * and then nothing, until the client goes away or the server closes: the way to catch a client
 * in the middle of a turn. With the queue empty, `fallback` answers (default: an HTTP 500 that
 * names the request, so a test that scripted too few responses fails visibly).
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
  | { readonly type: 'message'; readonly text: string }
  | { readonly type: 'reasoning'; readonly summary: string }
  /** A function tool call; `arguments` is sent as a JSON string, as the API does. */
  | { readonly type: 'function_call'; readonly name: string; readonly arguments: unknown; readonly callId: string };

/** What one `POST /v1/responses` answers. */
export type MockResponse =
  | {
      readonly kind?: 'stream';
      readonly output: readonly MockOutput[];
      /** Default: 10 input, 5 output tokens. */
      readonly usage?: MockUsage;
      /** Wait this long before streaming (ms). */
      readonly delayMs?: number;
    }
  /** Send `response.created`, then nothing more: the client waits until it gives up. */
  | { readonly kind: 'stall' }
  /** An HTTP error with a JSON body `{ error: { message } }`. */
  | { readonly kind: 'error'; readonly status: number; readonly message: string };

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
  /** Add responses to the end of the queue. */
  enqueue(...steps: MockStep[]): void;
  /** Scripted responses not yet given. */
  readonly pending: number;
  /** Resolves when a `POST /v1/responses` is stalled (at least `count` of them so far). */
  waitForStall(count?: number, timeoutMs?: number): Promise<void>;
  /** End stalled streams, stop listening, and wait for the server to close. */
  close(): Promise<void>;
}

const DEFAULT_USAGE: MockUsage = { input_tokens: 10, output_tokens: 5 };

function sse(res: ServerResponse, event: Record<string, unknown> & { type: string }): void {
  res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
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
        arguments: typeof out.arguments === 'string' ? out.arguments : JSON.stringify(out.arguments),
      };
  }
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

/**
 * Start a mock Responses API server on 127.0.0.1.
 * @example
 * const mock = await startMockResponses({ script: [{ output: [{ type: 'message', text: 'hi' }] }] });
 * // point the client at mock.baseUrl …
 * await mock.close();
 */
export async function startMockResponses(options: MockResponsesOptions = {}): Promise<MockResponsesServer> {
  const queue: MockStep[] = [...(options.script ?? [])];
  const requests: RecordedRequest[] = [];
  const stalled = new Set<ServerResponse>();
  let stalls = 0;
  const stallWaiters: { count: number; resolve: () => void }[] = [];
  let responseNo = 0;
  const models = options.models ?? ['mock-model'];

  const fallback: MockStep =
    options.fallback ??
    ((r) => ({ kind: 'error', status: 500, message: `mock-responses: no scripted response left for request ${requests.indexOf(r) + 1}` }));

  const stream = async (res: ServerResponse, response: MockResponse): Promise<void> => {
    const n = ++responseNo;
    const id = `resp_mock_${n}`;
    if (response.kind === 'error') {
      res.writeHead(response.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: response.message, type: 'mock_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    if (response.kind === 'stall') {
      sse(res, { type: 'response.created', response: { id, object: 'response', status: 'in_progress', output: [] } });
      stalled.add(res);
      res.on('close', () => stalled.delete(res));
      stalls++;
      for (const w of stallWaiters.splice(0)) {
        if (stalls >= w.count) w.resolve();
        else stallWaiters.push(w);
      }
      return;
    }
    if (response.delayMs) await new Promise((r) => setTimeout(r, response.delayMs));
    sse(res, { type: 'response.created', response: { id, object: 'response', status: 'in_progress', output: [] } });
    const items: Record<string, unknown>[] = [];
    response.output.forEach((out, index) => {
      const item = itemOf(out, `${out.type === 'message' ? 'msg' : out.type === 'reasoning' ? 'rs' : 'fc'}_mock_${n}_${index}`);
      items.push(item);
      sse(res, { type: 'response.output_item.added', output_index: index, item: { ...item, status: 'in_progress' } });
      if (out.type === 'message') {
        sse(res, { type: 'response.output_text.delta', output_index: index, content_index: 0, item_id: item.id, delta: out.text });
      }
      sse(res, { type: 'response.output_item.done', output_index: index, item });
    });
    sse(res, {
      type: 'response.completed',
      response: { id, object: 'response', status: 'completed', output: items, usage: usageOf(response.usage ?? DEFAULT_USAGE) },
    });
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);
    const recorded: RecordedRequest = { method: req.method ?? 'GET', path, headers: { ...req.headers }, body };
    requests.push(recorded);
    if (recorded.method === 'POST' && path.endsWith('/responses')) {
      const step = queue.shift() ?? fallback;
      await stream(res, typeof step === 'function' ? step(recorded) : step);
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
    enqueue: (...steps) => void queue.push(...steps),
    get pending() {
      return queue.length;
    },
    waitForStall: (count = 1, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        if (stalls >= count) return resolve();
        const timer = setTimeout(() => reject(new Error(`mock-responses: no stalled response within ${timeoutMs} ms`)), timeoutMs);
        stallWaiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
    close: async () => {
      for (const res of stalled) res.destroy();
      stalled.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
