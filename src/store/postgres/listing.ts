/**
 * Listing the conversations of a Postgres store: the filters, both sorts and the exact
 * cursors of the other stores (`../listing.ts`), with the ordering and the keyset paging
 * done in SQL on the `conversations` indexes. The name filter matches `name_key`, the name
 * lower-cased as JavaScript does it, against the query lower-cased the same way, so it
 * matches what `matches` matches; the metadata filter is jsonb containment, which for the
 * scalar values metadata holds is "every value equal".
 */
import { InvalidOpError, SessionNotFoundError } from '../../errors.js';
import { assertConversationId } from '../../protocol/ids.js';
import type { SessionMetaPayload } from '../../protocol/records.js';
import { cursorAfter, pageSize, parseCursor, type Listed } from '../listing.js';
import type { ConversationSummary, ListPage, ListQuery } from '../store.js';
import { summaryOf } from '../summary.js';
import { pgMetadata, pgText, type Database } from './database.js';

/** The columns a summary is made of. */
const COLUMNS = 'meta, updated_ms, archived, name';

interface SummaryRow {
  readonly meta: SessionMetaPayload;
  readonly updated_ms: string;
  readonly archived: boolean;
  readonly name: string | null;
}

function listedOf(row: SummaryRow): Listed {
  const updatedMs = Number(row.updated_ms);
  return { summary: summaryOf(row.meta, updatedMs, row.archived, row.name ?? undefined), updatedMs };
}

/** A page of conversations. @throws {InvalidOpError} for a bad limit, cursor, name or metadata. */
export async function listConversations(db: Database, query: ListQuery): Promise<ListPage> {
  const limit = pageSize(query);
  const sort = query.sort ?? 'created';
  const position = parseCursor(query);
  const values: unknown[] = [query.archived ?? false];
  const where = ['archived = $1'];
  if (query.name !== undefined) {
    if (typeof query.name !== 'string') throw new InvalidOpError([{ path: ['name'], message: 'expected string' }], 'list query');
    values.push(pgText(query.name.toLowerCase()));
    where.push(`strpos(coalesce(name_key, ''), $${values.length}) > 0`);
  }
  if (query.metadata !== undefined) {
    if (typeof query.metadata !== 'object' || query.metadata === null || Array.isArray(query.metadata)) {
      throw new InvalidOpError([{ path: ['metadata'], message: 'expected an object' }], 'list query');
    }
    values.push(JSON.stringify(pgMetadata(query.metadata)));
    where.push(`metadata @> $${values.length}::jsonb`);
  }
  if (position && sort === 'created') {
    values.push(position.id);
    where.push(`id < $${values.length}`);
  } else if (position) {
    values.push(position.updatedMs, position.id);
    where.push(`(updated_ms, id) < ($${values.length - 1}, $${values.length})`);
  }
  values.push(limit + 1);
  const order = sort === 'created' ? 'id DESC' : 'updated_ms DESC, id DESC';
  const rows = await db.query<SummaryRow>(
    'list conversations',
    `SELECT ${COLUMNS} FROM ${db.table('conversations')} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $${values.length}`,
    values,
  );
  const listed = rows.slice(0, limit).map(listedOf);
  const last = listed[listed.length - 1];
  return { items: listed.map((l) => l.summary), nextCursor: rows.length > limit && last ? cursorAfter(last, sort) : null };
}

/** One conversation as listed. @throws {SessionNotFoundError} */
export async function summaryOfConversation(db: Database, raw: string): Promise<ConversationSummary> {
  const id = assertConversationId(raw);
  const [row] = await db.query<SummaryRow>(
    'read a conversation',
    { name: 'colloquy_summary', text: `SELECT ${COLUMNS} FROM ${db.table('conversations')} WHERE id = $1` },
    [id],
  );
  if (!row) throw new SessionNotFoundError(id, db.description);
  return listedOf(row).summary;
}
