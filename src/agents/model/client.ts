/**
 * The model client interface: one sampling request in, a stream of model events out. The
 * model agent (`modelAgent`) runs a turn's loop over it; adapters (OpenAI Responses, Chat
 * Completions, any compatible server) implement it. Shapes follow the Responses API's
 * vocabulary (messages, function calls and their outputs), which Chat Completions maps onto.
 */
import { ColloquyError } from '../../errors.js';
import type { RateLimitSnapshot } from '../../protocol/events.js';
import type { Usage } from '../../protocol/items.js';

/** One entry of a prompt, in the Responses API's terms. */
export type PromptItem =
  | {
      readonly type: 'message';
      readonly role: 'user' | 'assistant' | 'developer';
      readonly text: string;
      /** Local image files attached to a user message (paths). */
      readonly images?: readonly string[];
    }
  | {
      readonly type: 'function_call';
      readonly callId: string;
      readonly name: string;
      /** The arguments as the model wrote them: a JSON text. */
      readonly arguments: string;
    }
  | { readonly type: 'function_call_output'; readonly callId: string; readonly output: string };

/** A tool as a model sees it: a function with a JSON Schema for its arguments. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the arguments object. */
  readonly parameters: Readonly<Record<string, unknown>>;
}

/** One sampling request: everything a model needs for one response. */
export interface SampleRequest {
  readonly model: string;
  /** System (developer) instructions, or null. */
  readonly instructions: string | null;
  /** The prompt, normalised: every function call has its output, no output lacks its call. */
  readonly input: readonly PromptItem[];
  readonly tools: readonly ToolSpec[];
  /** May the model call several tools in one response. */
  readonly parallelToolCalls: boolean;
  /** JSON Schema the final message should follow, if any. */
  readonly outputSchema?: unknown;
  /** Aborting cancels the request (the HTTP request, and any retry wait). */
  readonly signal: AbortSignal;
}

/**
 * What a sampling request streams.
 *
 * - `text.delta` / `text.done`: the assistant message, in pieces and whole (one `text.done` per message).
 * - `reasoning.delta` / `reasoning.done`: a reasoning summary, likewise.
 * - `tool_call`: a complete function call (arguments as JSON text).
 * - `usage`: this request's tokens (input counts the whole prompt).
 * - `rate_limits`: the endpoint's rate-limit figures, merged with earlier ones.
 * - `retrying`: the request failed and is tried again after `delayMs` (ms).
 */
export type ModelEvent =
  | { readonly type: 'text.delta'; readonly delta: string }
  | { readonly type: 'text.done'; readonly text: string }
  | { readonly type: 'reasoning.delta'; readonly delta: string }
  | { readonly type: 'reasoning.done'; readonly text: string }
  | { readonly type: 'tool_call'; readonly callId: string; readonly name: string; readonly arguments: string }
  | { readonly type: 'usage'; readonly usage: Usage }
  | { readonly type: 'rate_limits'; readonly snapshot: RateLimitSnapshot }
  | { readonly type: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly message: string };

/** A model endpoint. `sample` streams one response; it throws `ModelError` when the request fails for good. */
export interface ModelClient {
  sample(request: SampleRequest): AsyncIterable<ModelEvent>;
}

/**
 * Why a model request failed:
 * - `context_window_exceeded`: the prompt is too long (the conversation compacts, then `retry` runs the turn again);
 * - `rate_limited`: 429s outlasted the retries;
 * - `server_error`: 5xx outlasted the retries;
 * - `network`: the connection failed or the stream was cut, and retries did not help;
 * - `bad_request`: the endpoint refused the request (4xx other than 429);
 * - `unauthorized`: 401/403;
 * - `invalid_response`: the stream could not be understood.
 */
export type ModelErrorCode =
  | 'context_window_exceeded'
  | 'rate_limited'
  | 'server_error'
  | 'network'
  | 'bad_request'
  | 'unauthorized'
  | 'invalid_response';

/** A model request that failed for good; fails the turn with `code`. */
export class ModelError extends ColloquyError {
  declare readonly code: ModelErrorCode;
  /** The HTTP status, when there was one. */
  readonly status: number | undefined;
  constructor(code: ModelErrorCode, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(code, message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.status = options.status;
  }
}
