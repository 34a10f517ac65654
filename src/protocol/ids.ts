/**
 * Conversation ids are ULIDs: 26 Crockford base-32 characters, unique and sorted by
 * creation time (so listing cursors are exact and a log's path follows from its id).
 */
import { decodeTime, monotonicFactory } from 'ulid';
import { InvalidIdError } from '../errors.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const next = monotonicFactory();

/** A new conversation id (monotonic within this process). */
export function newConversationId(): string {
  return next();
}

/** Whether `value` is a well-formed conversation id. */
export function isConversationId(value: unknown): value is string {
  return typeof value === 'string' && ULID.test(value);
}

/**
 * Check an id before it is used to build a path.
 * @throws {InvalidIdError} when `value` is not a ULID.
 */
export function assertConversationId(value: string): string {
  if (!isConversationId(value)) throw new InvalidIdError(String(value));
  return value;
}

/** The creation time encoded in a conversation id (ms since the epoch). */
export function idTime(id: string): number {
  return decodeTime(id);
}
