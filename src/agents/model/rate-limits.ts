/**
 * Rate-limit headers of OpenAI-compatible endpoints, as Codex's model client reads them:
 * `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
 * `x-ratelimit-reset-requests`, and the same three for `-tokens`. The reset times are
 * durations such as `1s`, `6m0s`, `20ms` or `1h2m3.5s`.
 */
import type { RateLimitSnapshot } from '../../protocol/events.js';

/** Something headers can be read from: a fetch `Headers`, or a plain record (names in lower case). */
export type HeaderSource = { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The header value `name`, or undefined. */
export function headerValue(headers: HeaderSource | null | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return value === null ? undefined : value;
  }
  const value = (headers as Readonly<Record<string, string | readonly string[] | undefined>>)[name.toLowerCase()];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value[0];
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000001 };

/**
 * A duration as the rate-limit headers write it (Go's `time.Duration` text: `1s`, `6m0s`,
 * `20ms`, `1h2m3.5s`), in milliseconds, rounded up to a whole millisecond. A bare number is
 * taken as seconds. Returns undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value) * 1000);
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = part.exec(value); m !== null; m = part.exec(value)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    matched = part.lastIndex;
  }
  if (matched !== value.length) return undefined;
  return Math.ceil(total);
}

function count(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/**
 * The rate-limit figures of one HTTP response: `{ requests: { limit, remaining, reset_ms },
 * tokens: { … } }` (counts as sent, reset times in ms). Only the fields present are set; a
 * bucket with no field is left out. Returns null when the response has no rate-limit header.
 */
export function parseRateLimitHeaders(headers: HeaderSource | null | undefined): RateLimitSnapshot | null {
  const snapshot: RateLimitSnapshot = {};
  for (const bucket of ['requests', 'tokens'] as const) {
    const limit = count(headerValue(headers, `x-ratelimit-limit-${bucket}`));
    const remaining = count(headerValue(headers, `x-ratelimit-remaining-${bucket}`));
    const reset = headerValue(headers, `x-ratelimit-reset-${bucket}`);
    const resetMs = reset !== undefined ? parseDuration(reset) : undefined;
    const entry = {
      ...(limit !== undefined ? { limit } : {}),
      ...(remaining !== undefined ? { remaining } : {}),
      ...(resetMs !== undefined ? { reset_ms: resetMs } : {}),
    };
    if (Object.keys(entry).length > 0) snapshot[bucket] = entry;
  }
  return Object.keys(snapshot).length > 0 ? snapshot : null;
}

/**
 * `next` over `previous`: per bucket and field, the newer value wins and a field `next` lacks
 * keeps its previous value. Neither argument is changed.
 */
export function mergeRateLimits(previous: RateLimitSnapshot | null | undefined, next: RateLimitSnapshot): RateLimitSnapshot {
  const merged: RateLimitSnapshot = {};
  for (const [bucket, entry] of Object.entries(previous ?? {})) merged[bucket] = { ...entry };
  for (const [bucket, entry] of Object.entries(next)) merged[bucket] = { ...merged[bucket], ...entry };
  return merged;
}

/**
 * The latest rate-limit figures of one endpoint, merged response after response (as Codex
 * keeps them per client). `update` returns the merged snapshot, or null when the response had
 * no rate-limit header (nothing to report).
 */
export class RateLimitTracker {
  #snapshot: RateLimitSnapshot | null = null;

  /** The merged figures so far, or null before any response had them. */
  get snapshot(): RateLimitSnapshot | null {
    return this.#snapshot;
  }

  /** Merge the rate-limit headers of a response; returns the merged snapshot, or null when there were none. */
  update(headers: HeaderSource | null | undefined): RateLimitSnapshot | null {
    const parsed = parseRateLimitHeaders(headers);
    if (!parsed) return null;
    this.#snapshot = mergeRateLimits(this.#snapshot, parsed);
    return this.#snapshot;
  }
}
