/**
 * Listing shared by the stores: filters, newest-first order, exact cursors and pages.
 *
 * Cursors are exact because they name the last conversation returned, not a time:
 * `c:<id>` for creation order (ids are ULIDs, so id order is creation order) and
 * `u:<updated ms>:<id>` for update order, ties broken by id. No conversation created or
 * updated in the same millisecond as the cursor is lost (Codex's timestamp-only cursor
 * drops those created in the same second).
 */
import { InvalidOpError } from '../errors.js';
import type { ConversationSummary, ListPage, ListQuery } from './store.js';

/** Default page size (conversations). */
export const DEFAULT_PAGE = 50;
/** Largest page size a query may ask for (conversations). */
export const MAX_PAGE = 1000;

/** A summary with its update time in ms, as the stores keep it. */
export interface Listed {
  readonly summary: ConversationSummary;
  readonly updatedMs: number;
}

interface Position {
  readonly updatedMs: number;
  readonly id: string;
}

function badQuery(field: string, message: string): InvalidOpError {
  return new InvalidOpError([{ path: [field], message }], 'list query');
}

/** Validate a query's limit. @throws {InvalidOpError} */
export function pageSize(query: ListQuery): number {
  const limit = query.limit ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw badQuery('limit', `must be an integer from 1 to ${MAX_PAGE}`);
  return limit;
}

/** Parse a cursor for the query's sort. @throws {InvalidOpError} when it is malformed or of the other sort. */
export function parseCursor(query: ListQuery): Position | null {
  const cursor = query.cursor;
  if (cursor === undefined || cursor === null || cursor === '') return null;
  const sort = query.sort ?? 'created';
  if (sort === 'created') {
    const m = /^c:([0-9A-HJKMNP-TV-Z]{26})$/.exec(cursor);
    if (!m) throw badQuery('cursor', 'is not a cursor of a listing sorted by created');
    return { updatedMs: 0, id: m[1] as string };
  }
  const m = /^u:(\d{1,16}):([0-9A-HJKMNP-TV-Z]{26})$/.exec(cursor);
  if (!m) throw badQuery('cursor', 'is not a cursor of a listing sorted by updated');
  return { updatedMs: Number(m[1]), id: m[2] as string };
}

/** The cursor that continues after `entry`. */
export function cursorAfter(entry: Listed, sort: 'created' | 'updated'): string {
  return sort === 'created' ? `c:${entry.summary.id}` : `u:${entry.updatedMs}:${entry.summary.id}`;
}

/** Whether a summary passes the query's filters (archived, name, metadata). */
export function matches(summary: ConversationSummary, query: ListQuery): boolean {
  if (summary.archived !== (query.archived ?? false)) return false;
  if (query.name !== undefined && !(summary.name ?? '').toLowerCase().includes(query.name.toLowerCase())) return false;
  if (query.metadata) {
    for (const [key, value] of Object.entries(query.metadata)) {
      if (summary.metadata?.[key] !== value) return false;
    }
  }
  return true;
}

/** Newest-first comparison for the sort (negative when `a` comes first). */
export function compareListed(sort: 'created' | 'updated'): (a: Listed, b: Listed) => number {
  if (sort === 'created') return (a, b) => (a.summary.id < b.summary.id ? 1 : a.summary.id > b.summary.id ? -1 : 0);
  return (a, b) =>
    b.updatedMs - a.updatedMs || (a.summary.id < b.summary.id ? 1 : a.summary.id > b.summary.id ? -1 : 0);
}

/** Whether `entry` comes strictly after the cursor position in newest-first order. */
export function isAfter(entry: Listed, position: Position, sort: 'created' | 'updated'): boolean {
  if (sort === 'created') return entry.summary.id < position.id;
  return entry.updatedMs < position.updatedMs || (entry.updatedMs === position.updatedMs && entry.summary.id < position.id);
}

/**
 * One page from entries already filtered and sorted newest first.
 * @throws {InvalidOpError} for a bad limit or cursor.
 */
export function paginate(sorted: readonly Listed[], query: ListQuery): ListPage {
  const limit = pageSize(query);
  const sort = query.sort ?? 'created';
  const position = parseCursor(query);
  const items: ConversationSummary[] = [];
  let last: Listed | null = null;
  let more = false;
  for (const entry of sorted) {
    if (position && !isAfter(entry, position, sort)) continue;
    if (items.length === limit) {
      more = true;
      break;
    }
    items.push(entry.summary);
    last = entry;
  }
  return { items, nextCursor: more && last ? cursorAfter(last, sort) : null };
}
