/**
 * A `ModelClient` for the OpenAI Responses API (`POST /responses`, streamed), through the
 * `openai` package: OpenAI itself, or any server that speaks the Responses API (vLLM,
 * Ollama, LM Studio, a proxy). Retries and rate limits follow Codex's model client (see
 * `retry.ts` and `rate-limits.ts`).
 */
import OpenAI, { APIError } from 'openai';
import type { RateLimitSnapshot } from '../../protocol/events.js';
import type { Usage } from '../../protocol/items.js';
import { readImageDataUrl } from '../image.js';
import { ModelError, type ModelClient, type ModelEvent, type PromptItem, type SampleRequest } from './client.js';
import { RateLimitTracker } from './rate-limits.js';
import { isContextWindowExceeded, retryAfterFromMessage, StreamFailure, withRetries, type RetryOptions } from './retry.js';

/** The default base URL: OpenAI's API. */
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** How long a stream may stay silent before the attempt counts as cut (ms), as Codex's `stream_idle_timeout_ms`. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000;

/** Options of `openaiResponsesClient` and `openaiChatClient`. */
export interface OpenAIClientOptions extends RetryOptions {
  /** Base URL of the API, up to and including `/v1` (e.g. `http://localhost:11434/v1`). Default `https://api.openai.com/v1`. */
  readonly baseURL?: string;
  /** Bearer token sent as `Authorization`. Default: none (no `Authorization` header, as local servers want). */
  readonly apiKey?: string;
  /**
   * Model to ask for when a request names none or names `local` (the model of a conversation
   * started without one). A request's own model wins otherwise.
   */
  readonly model?: string;
  /** The `fetch` to use. Default: the global `fetch`. */
  readonly fetch?: typeof globalThis.fetch;
  /** Extra headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Longest wait for the response headers of one attempt (ms). Default: the `openai` package's (10 minutes). */
  readonly timeoutMs?: number;
  /** Longest silence inside a stream before the attempt counts as cut (ms). Default 300,000. */
  readonly idleTimeoutMs?: number;
  /**
   * Reasoning settings for reasoning models: sent as `reasoning` (Responses) or
   * `reasoning_effort` (Chat Completions). Default: not sent (the model's default).
   */
  readonly reasoning?: { readonly effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high' | 'xhigh'; readonly summary?: 'auto' | 'concise' | 'detailed' };
}

/** A model client of an OpenAI-compatible endpoint. */
export interface OpenAIModelClient extends ModelClient {
  /** Which API it speaks. */
  readonly wireApi: 'responses' | 'chat';
  /** The base URL it sends requests to. */
  readonly baseURL: string;
  /** The endpoint's rate-limit figures merged over every response so far, or null before any had them. */
  readonly rateLimits: RateLimitSnapshot | null;
}

/**
 * The `openai` SDK client for `options`, with the SDK's own retries off (`maxRetries: 0`):
 * retries are Colloquy's. Nothing is read from the environment; `modelClientFromConfig` does that.
 */
export function openaiSdk(options: OpenAIClientOptions): OpenAI {
  const apiKey = options.apiKey !== undefined && options.apiKey !== '' ? options.apiKey : undefined;
  return new OpenAI({
    baseURL: options.baseURL ?? DEFAULT_OPENAI_BASE_URL,
    // The SDK insists on a key; without one, the Authorization header is removed below.
    apiKey: apiKey ?? 'no-key',
    organization: null,
    project: null,
    maxRetries: 0,
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    defaultHeaders: { ...options.headers, ...(apiKey === undefined ? { Authorization: null } : {}) },
  });
}

/** The model a request asks for: its own, unless it is empty or the `local` placeholder. */
export function modelOf(request: SampleRequest, options: OpenAIClientOptions): string {
  if (options.model && (request.model === '' || request.model === 'local')) return options.model;
  return request.model;
}

/**
 * An image for the API: a `data:` URL with the file's bytes in base64 (a `http(s):` or
 * `data:` URL is passed as it is).
 * @throws {ModelError} `bad_request` when the file cannot be read.
 */
export async function imageUrl(path: string): Promise<string> {
  if (/^(https?|data):/i.test(path)) return path;
  try {
    return await readImageDataUrl(path);
  } catch (err) {
    throw new ModelError('bad_request', `cannot read image ${path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A whole, non-negative count of tokens (0 for anything else). */
function tokens(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/** Colloquy's `Usage` from the Responses API's `usage` (input counts cached tokens; output counts reasoning tokens). */
export function usageFromResponses(usage: unknown): Usage {
  const u = (usage ?? {}) as {
    input_tokens?: unknown;
    input_tokens_details?: { cached_tokens?: unknown } | null;
    output_tokens?: unknown;
    output_tokens_details?: { reasoning_tokens?: unknown } | null;
  };
  return {
    input_tokens: tokens(u.input_tokens),
    cached_input_tokens: tokens(u.input_tokens_details?.cached_tokens),
    output_tokens: tokens(u.output_tokens),
    reasoning_output_tokens: tokens(u.output_tokens_details?.reasoning_tokens),
  };
}

/**
 * The failure an in-stream error (`response.failed`'s `response.error`, an `error` event)
 * stands for: context window exceeded and used-up quotas are final; rate limits and server
 * errors are tried again (after the wait the message names, if any).
 */
export function streamFailure(error: unknown, what: string): StreamFailure {
  const e = (error ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : `${what}${code ? ` (${code})` : ''}`;
  if (isContextWindowExceeded(code, message)) {
    return new StreamFailure('context_window_exceeded', `the prompt does not fit the model's context window: ${message}`, false);
  }
  if (code === 'insufficient_quota') return new StreamFailure('rate_limited', message, false);
  if (code === 'rate_limit_exceeded') return new StreamFailure('rate_limited', message, true, retryAfterFromMessage(message));
  if (code === 'invalid_prompt' || (code !== undefined && /^(invalid|unsupported|image|empty|bio_policy|data_residency)/.test(code))) {
    return new StreamFailure('bad_request', message, false);
  }
  return new StreamFailure('server_error', message, true, retryAfterFromMessage(message));
}

/**
 * The events of an SDK stream; when nothing arrives for `idleMs`, the request is aborted and
 * a retryable `network` failure thrown.
 */
export async function* idleGuard<T>(stream: AsyncIterable<T> & { controller: AbortController }, idleMs: number): AsyncGenerator<T> {
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    stream.controller.abort();
  }, idleMs);
  timer.unref?.();
  try {
    for await (const event of stream) {
      timer.refresh();
      yield event;
      timer.refresh();
    }
  } finally {
    clearTimeout(timer);
  }
  if (idle) throw new StreamFailure('network', `the stream sent nothing for ${idleMs} ms`, true);
}

/**
 * Run one SDK request and report the rate-limit headers of its response (or of its error):
 * `call` starts it; the result is the parsed stream.
 */
export async function* startStream<T>(
  call: () => { withResponse(): Promise<{ data: T; response: Response }> },
  tracker: RateLimitTracker,
): AsyncGenerator<ModelEvent, T> {
  let started: { data: T; response: Response };
  try {
    started = await call().withResponse();
  } catch (err) {
    const limits = err instanceof APIError ? tracker.update(err.headers) : null;
    if (limits) yield { type: 'rate_limits', snapshot: limits };
    throw err;
  }
  const limits = tracker.update(started.response.headers);
  if (limits) yield { type: 'rate_limits', snapshot: limits };
  return started.data;
}

type ResponsesInput = OpenAI.Responses.ResponseInputItem;

/** The Responses API's `input` for a prompt (images read from their paths into data URLs). */
export async function responsesInput(items: readonly PromptItem[]): Promise<ResponsesInput[]> {
  const input: ResponsesInput[] = [];
  for (const item of items) {
    switch (item.type) {
      case 'message': {
        const images = item.role === 'user' ? (item.images ?? []) : [];
        if (images.length === 0) {
          input.push({ type: 'message', role: item.role, content: item.text });
          break;
        }
        const content: OpenAI.Responses.ResponseInputContent[] = [];
        if (item.text !== '') content.push({ type: 'input_text', text: item.text });
        for (const path of images) content.push({ type: 'input_image', image_url: await imageUrl(path), detail: 'auto' });
        input.push({ type: 'message', role: 'user', content });
        break;
      }
      case 'function_call':
        input.push({ type: 'function_call', call_id: item.callId, name: item.name, arguments: item.arguments });
        break;
      case 'function_call_output':
        input.push({ type: 'function_call_output', call_id: item.callId, output: item.output });
        break;
    }
  }
  return input;
}

/** The request body of a sampling request (streamed, not stored). */
export async function responsesBody(request: SampleRequest, options: OpenAIClientOptions): Promise<OpenAI.Responses.ResponseCreateParamsStreaming> {
  const tools = request.tools.map((t) => ({ type: 'function' as const, name: t.name, description: t.description, parameters: { ...t.parameters }, strict: false }));
  return {
    model: modelOf(request, options),
    ...(request.instructions !== null && request.instructions !== '' ? { instructions: request.instructions } : {}),
    input: await responsesInput(request.input),
    ...(tools.length > 0 ? { tools, tool_choice: 'auto' as const, parallel_tool_calls: request.parallelToolCalls } : {}),
    ...(request.outputSchema !== undefined
      ? { text: { format: { type: 'json_schema' as const, name: 'output', schema: request.outputSchema as Record<string, unknown>, strict: true } } }
      : {}),
    ...(options.reasoning ? { reasoning: { ...options.reasoning } } : {}),
    store: false,
    stream: true,
  };
}

interface OutputItem {
  readonly type?: string;
  readonly id?: string;
  readonly call_id?: string;
  readonly name?: string;
  readonly arguments?: string;
  readonly content?: readonly { readonly type?: string; readonly text?: string; readonly refusal?: string }[];
  readonly summary?: readonly { readonly text?: string }[];
}

/** The events of one Responses stream, turned into `ModelEvent`s. */
async function* responsesEvents(events: AsyncIterable<unknown>, signal: AbortSignal): AsyncGenerator<ModelEvent> {
  const texts = new Map<string, string>();
  const reasonings = new Map<string, { text: string; part: number }>();
  const done = new Set<string>();
  let completed = false;

  function* finish(item: OutputItem, index: number): Generator<ModelEvent> {
    const key = item.id ?? `#${index}`;
    if (done.has(key)) return;
    done.add(key);
    switch (item.type) {
      case 'message': {
        const parts = item.content ?? [];
        const text = parts.some((p) => p.type === 'output_text')
          ? parts.filter((p) => p.type === 'output_text').map((p) => p.text ?? '').join('')
          : parts.map((p) => p.refusal ?? p.text ?? '').join('');
        const full = text !== '' ? text : (texts.get(key) ?? '');
        if (full !== '' || texts.has(key)) yield { type: 'text.done', text: full };
        return;
      }
      case 'reasoning': {
        const summary = (item.summary ?? []).map((s) => s.text ?? '').filter((s) => s !== '');
        const content = (item.content ?? []).map((c) => c.text ?? '').filter((s) => s !== '');
        const text = summary.length > 0 ? summary.join('\n\n') : content.length > 0 ? content.join('\n\n') : (reasonings.get(key)?.text ?? '');
        if (text !== '' || reasonings.has(key)) yield { type: 'reasoning.done', text };
        return;
      }
      case 'function_call':
        yield { type: 'tool_call', callId: item.call_id ?? key, name: item.name ?? '', arguments: item.arguments ?? '' };
        return;
      default:
        return;
    }
  }

  for await (const raw of events) {
    if (signal.aborted) return;
    const event = raw as { type?: string; [key: string]: unknown };
    switch (event.type) {
      case 'response.output_text.delta': {
        const key = String(event.item_id ?? `#${String(event.output_index)}`);
        const delta = String(event.delta ?? '');
        texts.set(key, (texts.get(key) ?? '') + delta);
        if (delta !== '') yield { type: 'text.delta', delta };
        break;
      }
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta': {
        const key = String(event.item_id ?? `#${String(event.output_index)}`);
        const part = Number(event.summary_index ?? event.content_index ?? 0);
        const previous = reasonings.get(key);
        // A new summary part starts a new paragraph.
        const delta = `${previous && previous.part !== part ? '\n\n' : ''}${String(event.delta ?? '')}`;
        reasonings.set(key, { text: (previous?.text ?? '') + delta, part });
        if (delta !== '') yield { type: 'reasoning.delta', delta };
        break;
      }
      case 'response.output_item.done':
        yield* finish((event.item ?? {}) as OutputItem, Number(event.output_index ?? 0));
        break;
      case 'response.completed': {
        const response = (event.response ?? {}) as { output?: readonly OutputItem[]; usage?: unknown };
        // Items a server reported only here (no `output_item.done`).
        for (const [index, item] of (response.output ?? []).entries()) yield* finish(item, index);
        if (response.usage) yield { type: 'usage', usage: usageFromResponses(response.usage) };
        completed = true;
        break;
      }
      case 'response.failed':
        throw streamFailure((event.response as { error?: unknown } | undefined)?.error, 'the response failed');
      case 'response.incomplete': {
        const reason = (event.response as { incomplete_details?: { reason?: unknown } } | undefined)?.incomplete_details?.reason;
        throw new StreamFailure('invalid_response', `the response is incomplete${typeof reason === 'string' ? `: ${reason}` : ''}`, false);
      }
      case 'error':
        throw streamFailure(event, 'stream error');
      default:
        break;
    }
    if (completed) break;
  }
  if (signal.aborted) return;
  if (!completed) throw new StreamFailure('network', 'the stream closed before response.completed', true);
}

/**
 * A `ModelClient` for the Responses API (`client.responses.create({ stream: true })`).
 *
 * - Request: `instructions`, the prompt as `input` (user images as `input_image` data URLs
 *   read from their paths), tools as function tools with their JSON Schema,
 *   `parallel_tool_calls`, `outputSchema` as `text.format` (`json_schema`, strict), `store: false`.
 * - Stream: `response.output_text.delta` → `text.delta`; reasoning summary (or reasoning text)
 *   deltas → `reasoning.delta`; each finished output item → `text.done`, `reasoning.done` or
 *   `tool_call`; `response.completed` → `usage` (input incl. cached tokens, output incl.
 *   reasoning tokens); the response's rate-limit headers → `rate_limits`, once per response.
 * - Failures: retried as Codex does (429, 5xx, network, a stream cut before output; `retrying`
 *   events), see `withRetries`; `response.failed` with `context_length_exceeded` (or a 400
 *   saying so) → `ModelError('context_window_exceeded')`.
 * - Aborting `request.signal` aborts the HTTP request and ends the stream without an error.
 * @throws {ModelError} (from the iterator) when a request fails for good.
 */
export function openaiResponsesClient(options: OpenAIClientOptions = {}): OpenAIModelClient {
  const sdk = openaiSdk(options);
  const tracker = new RateLimitTracker();
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  return {
    wireApi: 'responses',
    baseURL: sdk.baseURL,
    get rateLimits() {
      return tracker.snapshot;
    },
    async *sample(request: SampleRequest): AsyncGenerator<ModelEvent> {
      if (request.signal.aborted) return;
      const body = await responsesBody(request, options);
      yield* withRetries(
        async function* attempt(signal) {
          const stream = yield* startStream(() => sdk.responses.create(body, { signal }), tracker);
          yield* responsesEvents(idleGuard(stream, idleMs), signal);
        },
        request.signal,
        options,
      );
    },
  };
}
