/**
 * A `ModelClient` for the Chat Completions API (`POST /chat/completions`, streamed), through
 * the `openai` package: OpenAI, or any server that speaks it (Ollama, vLLM, LM Studio,
 * llama.cpp, a proxy). Retries and rate limits as the Responses client (`retry.ts`,
 * `rate-limits.ts`).
 */
import { randomUUID } from 'node:crypto';
import type OpenAI from 'openai';
import type { Usage } from '../../protocol/items.js';
import type { ModelEvent, PromptItem, SampleRequest } from './client.js';
import { RateLimitTracker } from './rate-limits.js';
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  idleGuard,
  imageUrl,
  modelOf,
  openaiSdk,
  startStream,
  type OpenAIClientOptions,
  type OpenAIModelClient,
} from './openai-responses.js';
import { StreamFailure, withRetries } from './retry.js';

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type AssistantMessage = OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam;
type ToolCallParam = OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;

/**
 * The Chat Completions `messages` for a prompt: instructions and developer messages as
 * `system` messages (the role every compatible server knows); user images as `image_url`
 * parts (data URLs read from their paths); an assistant message and the function calls
 * right after it as one assistant message with `tool_calls` (consecutive calls grouped);
 * each output as a `tool` message.
 */
export async function chatMessages(instructions: string | null, items: readonly PromptItem[]): Promise<Message[]> {
  const messages: Message[] = [];
  if (instructions !== null && instructions !== '') messages.push({ role: 'system', content: instructions });
  // The assistant message function calls may still join (none once a tool or user message follows).
  let open: (AssistantMessage & { tool_calls?: ToolCallParam[] }) | null = null;
  for (const item of items) {
    switch (item.type) {
      case 'message': {
        if (item.role === 'assistant') {
          open = { role: 'assistant', content: item.text };
          messages.push(open);
          break;
        }
        open = null;
        if (item.role === 'developer') {
          messages.push({ role: 'system', content: item.text });
          break;
        }
        const images = item.images ?? [];
        if (images.length === 0) {
          messages.push({ role: 'user', content: item.text });
          break;
        }
        const content: OpenAI.Chat.Completions.ChatCompletionContentPart[] = [];
        if (item.text !== '') content.push({ type: 'text', text: item.text });
        for (const path of images) content.push({ type: 'image_url', image_url: { url: await imageUrl(path) } });
        messages.push({ role: 'user', content });
        break;
      }
      case 'function_call': {
        if (!open) {
          open = { role: 'assistant', content: null };
          messages.push(open);
        }
        open.tool_calls = [...(open.tool_calls ?? []), { id: item.callId, type: 'function', function: { name: item.name, arguments: item.arguments } }];
        break;
      }
      case 'function_call_output':
        open = null;
        messages.push({ role: 'tool', tool_call_id: item.callId, content: item.output });
        break;
    }
  }
  return messages;
}

/** The request body of a sampling request (streamed, with a final usage chunk). */
export async function chatBody(request: SampleRequest, options: OpenAIClientOptions): Promise<OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming> {
  const tools = request.tools.map((t) => ({
    type: 'function' as const,
    function: { name: t.name, description: t.description, parameters: { ...t.parameters } },
  }));
  return {
    model: modelOf(request, options),
    messages: await chatMessages(request.instructions, request.input),
    ...(tools.length > 0 ? { tools, tool_choice: 'auto' as const, parallel_tool_calls: request.parallelToolCalls } : {}),
    ...(request.outputSchema !== undefined
      ? { response_format: { type: 'json_schema' as const, json_schema: { name: 'output', schema: request.outputSchema as Record<string, unknown>, strict: true } } }
      : {}),
    ...(options.reasoning?.effort ? { reasoning_effort: options.reasoning.effort } : {}),
    stream: true,
    stream_options: { include_usage: true },
  };
}

function tokens(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

/** Colloquy's `Usage` from Chat Completions' `usage` (prompt tokens incl. cached, completion tokens incl. reasoning). */
export function usageFromChat(usage: unknown): Usage {
  const u = (usage ?? {}) as {
    prompt_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
    completion_tokens?: unknown;
    completion_tokens_details?: { reasoning_tokens?: unknown } | null;
  };
  return {
    input_tokens: tokens(u.prompt_tokens),
    cached_input_tokens: tokens(u.prompt_tokens_details?.cached_tokens),
    output_tokens: tokens(u.completion_tokens),
    reasoning_output_tokens: tokens(u.completion_tokens_details?.reasoning_tokens),
  };
}

interface ChunkToolCall {
  readonly index?: number;
  readonly id?: string | null;
  readonly function?: { readonly name?: string | null; readonly arguments?: string | null } | null;
}

interface Chunk {
  readonly choices?: readonly {
    readonly index?: number;
    readonly delta?: {
      readonly content?: string | null;
      readonly refusal?: string | null;
      /** Reasoning text, as vLLM, Ollama, LM Studio and DeepSeek stream it. */
      readonly reasoning_content?: string | null;
      readonly reasoning?: string | null;
      readonly tool_calls?: readonly ChunkToolCall[] | null;
    } | null;
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: unknown;
}

/** The chunks of one Chat Completions stream, turned into `ModelEvent`s. */
async function* chatEvents(chunks: AsyncIterable<unknown>, signal: AbortSignal): AsyncGenerator<ModelEvent> {
  let text = '';
  let reasoning: string | null = null;
  let reasoningDone = false;
  let finished = false;
  let usage: Usage | null = null;
  const calls = new Map<number, { id: string; name: string; arguments: string }>();

  function* endReasoning(): Generator<ModelEvent> {
    if (reasoning !== null && !reasoningDone) {
      reasoningDone = true;
      yield { type: 'reasoning.done', text: reasoning };
    }
  }

  for await (const raw of chunks) {
    if (signal.aborted) return;
    const chunk = raw as Chunk;
    if (chunk.usage) usage = usageFromChat(chunk.usage);
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue;
      const delta = choice.delta ?? {};
      const thinking = delta.reasoning_content ?? delta.reasoning;
      if (typeof thinking === 'string' && thinking !== '' && !reasoningDone) {
        reasoning = (reasoning ?? '') + thinking;
        yield { type: 'reasoning.delta', delta: thinking };
      }
      const content = delta.content ?? delta.refusal;
      if (typeof content === 'string' && content !== '') {
        yield* endReasoning();
        text += content;
        yield { type: 'text.delta', delta: content };
      }
      for (const call of delta.tool_calls ?? []) {
        yield* endReasoning();
        const index = call.index ?? calls.size;
        const entry = calls.get(index) ?? { id: '', name: '', arguments: '' };
        if (call.id) entry.id = call.id;
        if (call.function?.name && entry.name === '') entry.name = call.function.name;
        if (call.function?.arguments) entry.arguments += call.function.arguments;
        calls.set(index, entry);
      }
      if (choice.finish_reason) finished = true;
    }
  }
  if (signal.aborted) return;
  if (!finished) throw new StreamFailure('network', 'the stream closed before the response finished', true);
  yield* endReasoning();
  if (text !== '') yield { type: 'text.done', text };
  for (const index of [...calls.keys()].sort((a, b) => a - b)) {
    const call = calls.get(index) as { id: string; name: string; arguments: string };
    yield { type: 'tool_call', callId: call.id !== '' ? call.id : `call_${randomUUID()}`, name: call.name, arguments: call.arguments };
  }
  if (usage) yield { type: 'usage', usage };
}

/**
 * A `ModelClient` for Chat Completions (`client.chat.completions.create({ stream: true,
 * stream_options: { include_usage: true } })`).
 *
 * - Request: see `chatMessages` for the prompt; tools as function tools with their JSON
 *   Schema, `parallel_tool_calls`, `outputSchema` as `response_format` (`json_schema`, strict).
 * - Stream: content deltas → `text.delta`, then one `text.done`; reasoning deltas
 *   (`reasoning_content` / `reasoning`, as open-model servers send them) → `reasoning.delta`
 *   and `reasoning.done`; tool calls assembled from their argument deltas by `index` →
 *   `tool_call`s in index order once the response finished; the usage chunk → `usage`; the
 *   response's rate-limit headers → `rate_limits`, once per response.
 * - Failures and aborts: as `openaiResponsesClient` (retries as Codex's model client; a 400
 *   with `context_length_exceeded`, or saying the context length is exceeded, →
 *   `ModelError('context_window_exceeded')`).
 * @throws {ModelError} (from the iterator) when a request fails for good.
 */
export function openaiChatClient(options: OpenAIClientOptions = {}): OpenAIModelClient {
  const sdk = openaiSdk(options);
  const tracker = new RateLimitTracker();
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  return {
    wireApi: 'chat',
    baseURL: sdk.baseURL,
    get rateLimits() {
      return tracker.snapshot;
    },
    async *sample(request: SampleRequest): AsyncGenerator<ModelEvent> {
      if (request.signal.aborted) return;
      const body = await chatBody(request, options);
      yield* withRetries(
        async function* attempt(signal) {
          const stream = yield* startStream(() => sdk.chat.completions.create(body, { signal }), tracker);
          yield* chatEvents(idleGuard(stream, idleMs), signal);
        },
        request.signal,
        options,
      );
    },
  };
}
