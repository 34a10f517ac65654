/**
 * The message history's entries: checking what is appended and queried, stamping new
 * entries (a ULID and Unix seconds), and their JSONL line, as Codex's plus `id`:
 *
 *   {"id":"01J…","session_id":"01J…","ts":1718000000,"text":"…"}
 */
import type { Issue } from '../errors.js';
import { pooledUlidFactory } from '../protocol/ids.js';
import type { HistoryEntry, HistoryQuery } from './store.js';

/** An entry id: a ULID (26 Crockford base-32 characters), matched case-insensitively. */
export const HISTORY_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

const nextId = pooledUlidFactory();

/** What to append: a message sent in a conversation. */
export interface HistoryInput {
  /** The conversation (any non-empty string up to 256 characters; Codex's are UUIDs). */
  readonly sessionId: string;
  /** The message, as sent (any string, also empty). */
  readonly text: string;
}

/**
 * Problems with one input to append (empty when it is valid); with an `index`, each issue's
 * path starts with it (`[2, 'text']`), as for the inputs of one batch.
 */
export function inputIssues(input: HistoryInput, index: number | null): Issue[] {
  const at = (field: string): (string | number)[] => (index === null ? [field] : [index, field]);
  const issues: Issue[] = [];
  const { sessionId, text } = (input ?? {}) as Partial<HistoryInput>;
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > 256) {
    issues.push({ path: at('sessionId'), message: 'expected a non-empty string of at most 256 characters' });
  }
  if (typeof text !== 'string') issues.push({ path: at('text'), message: `expected string, got ${typeof text}` });
  return issues;
}

/** Problems with a query (empty when it is valid): `limit` must be a positive integer, `sessionId` a string. */
export function queryIssues(query: HistoryQuery): Issue[] {
  const issues: Issue[] = [];
  if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit > 0)) {
    issues.push({ path: ['limit'], message: 'expected a positive integer' });
  }
  if (query.sessionId !== undefined && typeof query.sessionId !== 'string') {
    issues.push({ path: ['sessionId'], message: 'expected string' });
  }
  return issues;
}

/** A new entry, stamped now: a new ULID (increasing within this process) and `ts` in Unix seconds. */
export function newEntry(input: HistoryInput): HistoryEntry {
  const now = Date.now();
  return { id: nextId(now), sessionId: input.sessionId, ts: Math.floor(now / 1000), text: input.text };
}

/** The JSONL line of an entry, newline included, as Codex's plus `id`. */
export function entryLine(entry: HistoryEntry): string {
  return `${JSON.stringify({ id: entry.id, session_id: entry.sessionId, ts: entry.ts, text: entry.text })}\n`;
}

/** A line (without its newline) parsed into an entry, or why it is not one (never quoting it). */
export function parseHistoryLine(text: string): HistoryEntry | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { reason: 'not an object' };
  const { id, session_id: sessionId, ts, text: message } = value as Record<string, unknown>;
  if (typeof id !== 'string' || !HISTORY_ID.test(id)) return { reason: 'id: expected a ULID' };
  if (typeof sessionId !== 'string') return { reason: 'session_id: expected string' };
  if (typeof ts !== 'number' || !Number.isFinite(ts)) return { reason: 'ts: expected a number' };
  if (typeof message !== 'string') return { reason: 'text: expected string' };
  return { id: id.toUpperCase(), sessionId, ts, text: message };
}
