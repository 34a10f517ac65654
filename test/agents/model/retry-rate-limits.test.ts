/**
 * The pieces under the OpenAI adapters: rate-limit header parsing and merging, retry-after
 * and backoff, error classification, and the retry loop itself (with scripted attempts).
 */
import { APIConnectionError, APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { ModelError, type ModelEvent } from '../../../src/agents/model/client.js';
import { mergeRateLimits, parseDuration, parseRateLimitHeaders, RateLimitTracker } from '../../../src/agents/model/rate-limits.js';
import {
  backoffDelay,
  classifyError,
  isContextWindowExceeded,
  retryAfterFromMessage,
  retryAfterMs,
  StreamFailure,
  withRetries,
  type Attempt,
} from '../../../src/agents/model/retry.js';

describe('parseDuration', () => {
  it.each([
    ['1s', 1000],
    ['6m0s', 360_000],
    ['20ms', 20],
    ['1h2m3.5s', 3_723_500],
    ['0.5s', 500],
    ['2', 2000],
    ['1.5ms', 2],
    ['250us', 1],
  ])('%s → %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '1x', '1s later', '-1s'])('%j is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('rate-limit headers', () => {
  it('parses the six headers into requests and tokens', () => {
    const headers = new Headers({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-tokens': '149984',
      'x-ratelimit-reset-tokens': '6m0s',
    });
    expect(parseRateLimitHeaders(headers)).toEqual({
      requests: { limit: 60, remaining: 59, reset_ms: 1000 },
      tokens: { limit: 150000, remaining: 149984, reset_ms: 360_000 },
    });
  });

  it('keeps only what is present and valid; null without any', () => {
    expect(parseRateLimitHeaders({ 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-limit-requests': 'many' })).toEqual({ tokens: { remaining: 10 } });
    expect(parseRateLimitHeaders(new Headers({ 'content-type': 'text/event-stream' }))).toBeNull();
    expect(parseRateLimitHeaders(null)).toBeNull();
  });

  it('merges: newer fields win, missing fields keep their previous values', () => {
    const previous = { requests: { limit: 60, remaining: 59, reset_ms: 1000 }, tokens: { limit: 100, remaining: 90 } };
    expect(mergeRateLimits(previous, { requests: { remaining: 58 } })).toEqual({
      requests: { limit: 60, remaining: 58, reset_ms: 1000 },
      tokens: { limit: 100, remaining: 90 },
    });
    expect(previous.requests.remaining).toBe(59);
    expect(mergeRateLimits(null, { tokens: { limit: 1 } })).toEqual({ tokens: { limit: 1 } });
  });

  it('a tracker reports the merged snapshot, or null for a response without headers', () => {
    const tracker = new RateLimitTracker();
    expect(tracker.update(new Headers())).toBeNull();
    expect(tracker.snapshot).toBeNull();
    tracker.update(new Headers({ 'x-ratelimit-limit-tokens': '100', 'x-ratelimit-remaining-tokens': '90' }));
    expect(tracker.update(new Headers({ 'x-ratelimit-remaining-tokens': '80' }))).toEqual({ tokens: { limit: 100, remaining: 80 } });
    expect(tracker.update(new Headers())).toBeNull();
    expect(tracker.snapshot).toEqual({ tokens: { limit: 100, remaining: 80 } });
  });
});

describe('retry-after', () => {
  it('prefers retry-after-ms, then retry-after in seconds or as a date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': '2' }))).toBe(2000);
    expect(retryAfterMs(new Headers({ 'retry-after': '0.5' }))).toBe(500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'later' }))).toBeUndefined();
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  it('reads "try again in …" from an error text', () => {
    expect(retryAfterFromMessage('Rate limit reached for gpt-5. Please try again in 1.5s.')).toBe(1500);
    expect(retryAfterFromMessage('Please try again in 20ms.')).toBe(20);
    expect(retryAfterFromMessage('Please try later.')).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('is uniform in [0, min(max, base · 2^(n-1))]', () => {
    const options = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, { ...options, random: () => 0 })).toBe(0);
    expect(backoffDelay(1, { ...options, random: () => 0.999999 })).toBe(100);
    expect(backoffDelay(3, { ...options, random: () => 0.5 })).toBe(200);
    expect(backoffDelay(10, { ...options, random: () => 0.999999 })).toBe(1000);
    for (let n = 1; n < 8; n++) {
      const d = backoffDelay(n, options);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** (n - 1)));
    }
  });
});

describe('classifyError', () => {
  /** An error as the SDK makes it: from an HTTP response (`{ error: body }`), or from an error inside a stream (no status). */
  const api = (status: number | undefined, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    status === undefined ? new APIError(undefined, body, undefined, undefined) : APIError.generate(status, { error: body }, undefined, new Headers(headers));

  it('context window: OpenAI code or the usual texts, never retried', () => {
    expect(classifyError(api(400, { code: 'context_length_exceeded', message: 'too long' }))).toMatchObject({ code: 'context_window_exceeded', retryable: false, status: 400 });
    expect(classifyError(api(400, { message: "This model's maximum context length is 4096 tokens." }))).toMatchObject({ code: 'context_window_exceeded' });
    expect(classifyError(api(400, { message: 'the request exceeds the available context size, try increasing it' }))).toMatchObject({ code: 'context_window_exceeded' });
    expect(classifyError(api(undefined, { code: 'context_length_exceeded', message: 'x' }))).toMatchObject({ code: 'context_window_exceeded', retryable: false });
    expect(isContextWindowExceeded(null, 'Input too long for the model context window')).toBe(true);
    expect(isContextWindowExceeded(null, 'Invalid value for temperature')).toBe(false);
  });

  it('statuses', () => {
    expect(classifyError(api(401, { message: 'bad key' }))).toMatchObject({ code: 'unauthorized', retryable: false });
    expect(classifyError(api(403, { message: 'no' }))).toMatchObject({ code: 'unauthorized', retryable: false });
    expect(classifyError(api(429, { message: 'slow' }, { 'retry-after-ms': '40' }))).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 40 });
    expect(classifyError(api(429, { message: 'You exceeded your current quota', code: 'insufficient_quota' }))).toMatchObject({ code: 'rate_limited', retryable: false });
    expect(classifyError(api(500, { message: 'oops' }))).toMatchObject({ code: 'server_error', retryable: true });
    expect(classifyError(api(422, { message: 'bad' }))).toMatchObject({ code: 'bad_request', retryable: false });
  });

  it('connection errors and anything thrown while reading are network errors, retried', () => {
    expect(classifyError(new APIConnectionError({ message: 'Connection error.', cause: new Error('ECONNREFUSED') }))).toMatchObject({ code: 'network', retryable: true });
    expect(classifyError(new TypeError('terminated'))).toMatchObject({ code: 'network', retryable: true });
    expect(classifyError(new SyntaxError('Unexpected token'))).toMatchObject({ code: 'invalid_response', retryable: false });
    expect(classifyError(new ModelError('bad_request', 'no image'))).toMatchObject({ code: 'bad_request', retryable: false });
  });
});

describe('withRetries', () => {
  const text = (delta: string): ModelEvent => ({ type: 'text.delta', delta });

  /** An attempt that plays the next script entry: events, then an error (or success). */
  function scripted(script: { events?: ModelEvent[]; error?: unknown }[]): { attempt: Attempt; calls: () => number } {
    let calls = 0;
    return {
      calls: () => calls,
      attempt: async function* () {
        const step = script[calls++] ?? {};
        for (const event of step.events ?? []) yield event;
        if (step.error !== undefined) throw step.error;
      },
    };
  }

  async function collect(attempt: Attempt, signal = new AbortController().signal, options = {}): Promise<{ events: ModelEvent[]; error: unknown }> {
    const events: ModelEvent[] = [];
    try {
      for await (const e of withRetries(attempt, signal, { baseDelayMs: 1, maxDelayMs: 2, ...options })) events.push(e);
      return { events, error: undefined };
    } catch (error) {
      return { events, error };
    }
  }

  it('retries a retryable failure with no output, honouring retryAfterMs', async () => {
    const { attempt, calls } = scripted([{ error: new StreamFailure('rate_limited', 'slow', true, 3) }, { events: [text('ok')] }]);
    const { events, error } = await collect(attempt);
    expect(error).toBeUndefined();
    expect(events).toEqual([{ type: 'retrying', attempt: 1, delayMs: 3, message: 'slow; retrying in 3 ms (retry 1 of 4)' }, text('ok')]);
    expect(calls()).toBe(2);
  });

  it('rate_limits events are not output: the attempt is still retried', async () => {
    const limits: ModelEvent = { type: 'rate_limits', snapshot: { requests: { remaining: 1 } } };
    const { attempt } = scripted([{ events: [limits], error: new TypeError('terminated') }, { events: [text('ok')] }]);
    const { events, error } = await collect(attempt);
    expect(error).toBeUndefined();
    expect(events.map((e) => e.type)).toEqual(['rate_limits', 'retrying', 'text.delta']);
  });

  it('fails with the failure code once output was produced', async () => {
    const { attempt, calls } = scripted([{ events: [text('a')], error: new TypeError('terminated') }]);
    const { events, error } = await collect(attempt);
    expect(events).toEqual([text('a')]);
    expect(error).toMatchObject({ code: 'network' });
    expect(calls()).toBe(1);
  });

  it('gives up after maxRetries with the last failure code', async () => {
    const failure = new StreamFailure('server_error', 'down', true);
    const { attempt, calls } = scripted([{ error: failure }, { error: failure }, { error: failure }]);
    const { events, error } = await collect(attempt, undefined, { maxRetries: 2 });
    expect(events.map((e) => e.type)).toEqual(['retrying', 'retrying']);
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ code: 'server_error', message: 'down (gave up after 3 attempts)' });
    expect(calls()).toBe(3);
  });

  it('does not retry final failures', async () => {
    const { attempt, calls } = scripted([{ error: new StreamFailure('context_window_exceeded', 'too long', false) }]);
    expect((await collect(attempt)).error).toMatchObject({ code: 'context_window_exceeded', message: 'too long' });
    expect(calls()).toBe(1);
  });

  it('an abort during an attempt ends quietly, and the attempt sees its signal aborted', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | null = null;
    const attempt: Attempt = async function* (signal) {
      seen = signal;
      yield text('a');
      controller.abort();
      throw new Error('aborted underneath');
    };
    expect(await collect(attempt, controller.signal)).toEqual({ events: [text('a')], error: undefined });
    expect((seen as AbortSignal | null)?.aborted).toBe(true);
  });
});
