/**
 * Retrying model requests, as Codex's model client does: a request that failed with a 429, a
 * 5xx or a network error (connection refused or reset, a stream cut before it completed) is
 * tried again after an exponential backoff with full jitter, or after the time the server
 * asked for (`retry-after-ms`, `retry-after`). A stream that already produced output is not
 * tried again (that would repeat the output): it fails with `network`. Errors that another
 * attempt cannot fix (context window exceeded, 401/403, other 4xx) fail at once.
 */
import { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { ColloquyError } from '../../errors.js';
import { sleep } from '../agent.js';
import { ModelError, type ModelErrorCode, type ModelEvent } from './client.js';
import { headerValue, type HeaderSource } from './rate-limits.js';

/** How a client retries. */
export interface RetryOptions {
  /** Retries after the first attempt (so at most `maxRetries + 1` requests). Default 4. */
  readonly maxRetries?: number;
  /** Backoff of the first retry (ms); each later one doubles it. Default 200. */
  readonly baseDelayMs?: number;
  /** Longest backoff (ms); a `retry-after` the server sends is honoured even when longer. Default 20,000. */
  readonly maxDelayMs?: number;
  /** Random numbers in [0, 1) for the jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** Defaults of `RetryOptions`. */
export const DEFAULT_RETRY = { maxRetries: 4, baseDelayMs: 200, maxDelayMs: 20_000 } as const;

/**
 * A failure a client found inside a stream (a `response.failed` event, an error chunk, a
 * stream that ended early), with whether another attempt may help.
 */
export class StreamFailure extends ColloquyError {
  declare readonly code: ModelErrorCode;
  constructor(
    code: ModelErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(code, message);
    this.name = 'StreamFailure';
  }
}

/** What went wrong with one attempt, and whether to try again. */
export interface Failure {
  readonly code: ModelErrorCode;
  readonly message: string;
  readonly retryable: boolean;
  /** The HTTP status, when there was one. */
  readonly status?: number;
  /** The wait the server asked for (ms), from `retry-after-ms` / `retry-after` or the error text. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

/**
 * The wait a response asks for (ms): `retry-after-ms` (milliseconds), else `retry-after`
 * (seconds, or an HTTP date). Undefined when neither is present and valid.
 */
export function retryAfterMs(headers: HeaderSource | null | undefined, now = Date.now()): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '' && Number.isFinite(Number(ms)) && Number(ms) >= 0) return Math.ceil(Number(ms));
  const after = headerValue(headers, 'retry-after');
  if (after === undefined || after.trim() === '') return undefined;
  if (Number.isFinite(Number(after))) return Number(after) >= 0 ? Math.ceil(Number(after) * 1000) : undefined;
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait an error text asks for ("Please try again in 1.5s" / "in 20ms"), as Codex reads it (ms). */
export function retryAfterFromMessage(message: string): number | undefined {
  const m = /try again in\s+(\d+(?:\.\d+)?)\s*(ms|s|seconds?)\b/i.exec(message);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.ceil(m[2]?.toLowerCase() === 'ms' ? n : n * 1000);
}

/**
 * Backoff before retry number `retry` (1 for the first retry), in ms: a uniformly random
 * value in [0, min(maxDelayMs, baseDelayMs · 2^(retry-1))] ("full jitter").
 */
export function backoffDelay(retry: number, options: RetryOptions = {}): number {
  const base = options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs;
  const max = options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.round((options.random ?? Math.random)() * ceiling);
}

const CONTEXT_TEXT =
  /context[_ ]length[_ ]exceeded|maximum context length|context (window|length|size) (is |was |has been )?(exceeded|too small)|exceeds? (the )?(model'?s? )?(available |maximum )?context|(too long|too large) for (the )?(model'?s? )?context/i;

/**
 * Does an error say the prompt does not fit the model's context window? OpenAI's code
 * `context_length_exceeded` (as Codex checks it), or an error text of the usual kinds
 * ("maximum context length is …", "exceeds the available context size", "context window exceeded").
 */
export function isContextWindowExceeded(code: string | null | undefined, message: string | null | undefined): boolean {
  if (code === 'context_length_exceeded' || code === 'context_window_exceeded' || code === 'exceed_context_size_error') return true;
  return CONTEXT_TEXT.test(message ?? '');
}

/** The message of an API error body (`{ error: { message } }` or `{ message }`), if any. */
function apiMessage(err: APIError): string {
  const body = err.error as { message?: unknown } | undefined;
  if (body && typeof body.message === 'string' && body.message !== '') return body.message;
  return err.message.replace(/^\d{3}\s+/, '');
}

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  const inner = cause instanceof Error ? `: ${(cause as { code?: unknown }).code ?? ''} ${cause.message}`.replace(/:\s+/, ': ') : '';
  return `${err.message}${inner}`;
}

/**
 * Classify an error of one attempt.
 * - `ModelError`: final as it is;
 * - `StreamFailure`: as it says;
 * - `APIError` with a status: context window → `context_window_exceeded`; 401/403 →
 *   `unauthorized`; 429 → `rate_limited` (retryable unless the quota is used up); 5xx →
 *   `server_error` (retryable); other 4xx → `bad_request`;
 * - `APIError` without a status (an error inside a stream): context window, else
 *   `rate_limited`/`server_error`, retryable;
 * - connection errors and anything else thrown while reading (e.g. `TypeError: terminated`
 *   when the socket closes): `network`, retryable; a `SyntaxError` (unreadable data) is
 *   `invalid_response`.
 */
export function classifyError(err: unknown): Failure {
  if (err instanceof ModelError) return { code: err.code, message: err.message, retryable: false, ...(err.status !== undefined ? { status: err.status } : {}), cause: err };
  if (err instanceof StreamFailure) {
    return {
      code: err.code,
      message: err.message,
      retryable: err.retryable,
      ...(err.status !== undefined ? { status: err.status } : {}),
      ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
      cause: err,
    };
  }
  if (err instanceof APIUserAbortError) return { code: 'network', message: 'the request was aborted', retryable: true, cause: err };
  if (err instanceof APIConnectionError) return { code: 'network', message: causeText(err), retryable: true, cause: err };
  if (err instanceof APIError) {
    const status = err.status;
    const message = apiMessage(err);
    const code = err.code ?? undefined;
    const after = retryAfterMs(err.headers) ?? retryAfterFromMessage(message);
    const withStatus = status !== undefined ? { status } : {};
    const wait = after !== undefined ? { retryAfterMs: after } : {};
    const prefix = status !== undefined ? `${status} ` : '';
    if (isContextWindowExceeded(code, message) && (status === undefined || (status >= 400 && status < 500))) {
      return { code: 'context_window_exceeded', message: `the prompt does not fit the model's context window: ${message}`, retryable: false, ...withStatus, cause: err };
    }
    if (status === undefined) {
      const limited = code === 'rate_limit_exceeded';
      return { code: limited ? 'rate_limited' : 'server_error', message: `stream error: ${message}`, retryable: code !== 'insufficient_quota', ...wait, cause: err };
    }
    if (status === 401 || status === 403) return { code: 'unauthorized', message: `${prefix}${message}`, retryable: false, ...withStatus, cause: err };
    if (status === 429) {
      return { code: 'rate_limited', message: `${prefix}${message}`, retryable: code !== 'insufficient_quota', ...withStatus, ...wait, cause: err };
    }
    if (status >= 500) return { code: 'server_error', message: `${prefix}${message}`, retryable: true, ...withStatus, ...wait, cause: err };
    return { code: 'bad_request', message: `${prefix}${message}`, retryable: false, ...withStatus, cause: err };
  }
  if (err instanceof SyntaxError) return { code: 'invalid_response', message: `unreadable response: ${err.message}`, retryable: false, cause: err };
  return { code: 'network', message: causeText(err), retryable: true, cause: err };
}

/** One attempt of a request: its events, and whether it was cut by `signal` (then it ends quietly). */
export type Attempt = (signal: AbortSignal) => AsyncIterable<ModelEvent>;

/** Events that are output: once one was yielded, the attempt cannot be repeated. */
function isOutput(event: ModelEvent): boolean {
  return event.type !== 'rate_limits' && event.type !== 'retrying';
}

/**
 * Run `attempt` until one succeeds, retrying as the module describes. Before each wait it
 * yields `{ type: 'retrying', attempt, delayMs, message }` (`attempt`: 1 for the first retry;
 * `delayMs`: the wait, ms). When `signal` aborts (during a request or a wait), the request is
 * cancelled and the iterator ends without an error.
 * @throws {ModelError} when an attempt fails for good: its code, or for exhausted retries
 * `rate_limited`, `server_error` or `network`; `network` also when a stream that already
 * produced output was cut.
 */
export async function* withRetries(attempt: Attempt, signal: AbortSignal, options: RetryOptions = {}): AsyncGenerator<ModelEvent> {
  const maxRetries = Math.max(0, options.maxRetries ?? DEFAULT_RETRY.maxRetries);
  for (let retry = 0; ; retry++) {
    if (signal.aborted) return;
    const controller = new AbortController();
    const abort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    let produced = false;
    let failure: Failure | null = null;
    try {
      for await (const event of attempt(controller.signal)) {
        if (signal.aborted) return;
        if (isOutput(event)) produced = true;
        yield event;
      }
      if (signal.aborted) return;
      return;
    } catch (err) {
      if (signal.aborted) return;
      failure = classifyError(err);
    } finally {
      signal.removeEventListener('abort', abort);
      controller.abort();
    }
    if (produced && failure.retryable) {
      throw new ModelError(failure.code, `${failure.message} (after part of the response was received; not retried)`, {
        ...(failure.status !== undefined ? { status: failure.status } : {}),
        cause: failure.cause,
      });
    }
    if (!failure.retryable || retry >= maxRetries) {
      const exhausted = failure.retryable ? ` (gave up after ${retry + 1} attempt${retry === 0 ? '' : 's'})` : '';
      throw new ModelError(failure.code, `${failure.message}${exhausted}`, {
        ...(failure.status !== undefined ? { status: failure.status } : {}),
        cause: failure.cause,
      });
    }
    const delayMs = failure.retryAfterMs ?? backoffDelay(retry + 1, options);
    yield { type: 'retrying', attempt: retry + 1, delayMs, message: `${failure.message}; retrying in ${delayMs} ms (retry ${retry + 1} of ${maxRetries})` };
    await sleep(delayMs, signal);
  }
}
