/**
 * Conversation ids are ULIDs: 26 Crockford base-32 characters, unique and sorted by
 * creation time (so listing cursors are exact and a log's path follows from its id).
 */
import { randomFillSync } from 'node:crypto';
import { decodeTime, monotonicFactory } from 'ulid';
import { InvalidIdError } from '../errors.js';

/**
 * 26 Crockford base-32 characters whose first is 0–7: a ULID's time is 48 bits, and 26
 * characters hold 130, so an id led by 8–Z would encode a time past the largest a ULID has
 * (the `ulid` package refuses to decode it).
 */
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const ULID_ANY_CASE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i;

/**
 * Cryptographic randomness drawn from a pool, a block at a time: the default ULID generator
 * asks the OS for every character (about 15 µs an id); ids are made for every turn.
 */
const pool = new Uint32Array(1024);
let poolAt = pool.length;
function pooledRandom(): number {
  if (poolAt === pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  return (pool[poolAt++] as number) / 0x1_0000_0000;
}

const next = monotonicFactory(pooledRandom);

/**
 * A new monotonic ULID generator drawing on the same pooled randomness (for ids other than
 * conversation ids, e.g. history entries).
 */
export function pooledUlidFactory(): (seedTime?: number) => string {
  return monotonicFactory(pooledRandom);
}

/** A new conversation id (monotonic within this process). */
export function newConversationId(): string {
  return next();
}

/** Whether `value` is a well-formed conversation id. */
export function isConversationId(value: unknown): value is string {
  return typeof value === 'string' && ULID.test(value);
}

/**
 * Check an id before it is used to build a path, and return it in canonical (upper) case:
 * ULIDs are case-insensitive, so `01hx…` names the same conversation as `01HX…`.
 * @throws {InvalidIdError} when `value` is not a ULID.
 */
export function assertConversationId(value: string): string {
  if (typeof value !== 'string' || !ULID_ANY_CASE.test(value)) throw new InvalidIdError(String(value));
  return value.toUpperCase();
}

/**
 * The creation time encoded in a conversation id (ms since the epoch).
 * @throws {InvalidIdError} when `id` is not a ULID.
 */
export function idTime(id: string): number {
  const canonical = assertConversationId(id);
  try {
    return decodeTime(canonical);
  } catch {
    throw new InvalidIdError(canonical);
  }
}
