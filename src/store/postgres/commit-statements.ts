/**
 * The statements of the Postgres store's group commit (see `commit.ts`), built once per store
 * (they are prepared once per connection), and their parameters for an entry or a batch:
 *
 * - `state`: the leases this node holds, checked and locked, the leases it takes, each
 *   conversation's `next_seq` and whether another node follows it, for every conversation of a
 *   commit at once;
 * - `batch`: every entry of a commit in one statement: conversations created or advanced
 *   (only where `next_seq` still is the entry's first `seq`), their records and messages;
 * - `append` and `create`: the same for one entry, run under a savepoint each when the batch
 *   statement was refused, so only the entry at fault fails.
 *
 * Each record is stored as its exact JSON line (`JSON.stringify(record)`), as the file store
 * writes it.
 */
import type pg from 'pg';
import type { LogRecord, SessionMetaPayload } from '../../protocol/records.js';
import { newEntry } from '../history-entries.js';
import type { CommitEntry } from '../store.js';
import { latestName } from '../summary.js';
import { pgMetadata, pgText, type Database } from './database.js';
import { takeSql } from './leases.js';

/** Database time in ms since the epoch, as `updated_ms` keeps it. */
export const NOW_MS = 'floor(extract(epoch FROM now()) * 1000)::bigint';

/** An entry to write: its conversation, its records (contiguous in `seq`) and whether it creates the conversation. */
export interface Write {
  readonly id: string;
  readonly entry: CommitEntry;
  readonly first: LogRecord;
  readonly last: LogRecord;
  readonly create: boolean;
}

/** What one entry writes, as parameters. */
interface Columns {
  readonly name: string | null;
  readonly nameKey: string | null;
  readonly types: string[];
  readonly lines: string[];
  readonly historyIds: string[];
  readonly historyTs: number[];
  readonly historyTexts: string[];
  /** For a creation: created_at, metadata (jsonb text), model, cwd, forked_from (jsonb text), meta (json text). */
  readonly header: readonly [string, string | null, string, string, string | null, string] | null;
}

function columnsOf(write: Write): Columns {
  const { id, entry, first, create } = write;
  const meta = create ? (first.payload as SessionMetaPayload) : null;
  const name = latestName(entry.records, meta?.name) ?? null;
  const types: string[] = [];
  const lines: string[] = [];
  for (const record of entry.records) {
    types.push(record.type);
    lines.push(JSON.stringify(record));
  }
  const history = (entry.messages ?? []).map((text) => newEntry({ sessionId: id, text }));
  return {
    name: name === null ? null : pgText(name),
    nameKey: name === null ? null : pgText(name.toLowerCase()),
    types,
    lines,
    historyIds: history.map((h) => h.id),
    historyTs: history.map((h) => h.ts),
    historyTexts: history.map((h) => pgText(h.text)),
    header: meta
      ? [
          pgText(meta.created_at),
          meta.metadata === undefined ? null : JSON.stringify(pgMetadata(meta.metadata)),
          pgText(meta.config.model),
          pgText(meta.config.cwd),
          meta.forked_from === undefined ? null : JSON.stringify(meta.forked_from),
          JSON.stringify(meta),
        ]
      : null,
  };
}

/** The columns of a new conversation row, in the order of the header parameters. */
const HEADER = 'created_at, metadata, model, cwd, forked_from, meta';

/** The group commit's statements of one store. */
export class CommitStatements {
  readonly #state: string;
  readonly #batch: string;
  readonly #append: string;
  readonly #create: string;

  constructor(db: Database) {
    const conversations = db.table('conversations');
    const leases = db.table('leases');
    const records = db.table('records');
    const history = db.table('history');
    // $1 every id, $2 the ids to take ($3 node, $4 ttl, $5 pid, $6 host), $7 the ids held.
    this.#state = `WITH acq AS (${takeSql(db, 2)}),
      mine AS (SELECT conversation_id, epoch FROM ${leases} WHERE conversation_id = ANY($7::text[]) AND owner_node = $3 ORDER BY conversation_id FOR UPDATE)
      SELECT w.id, acq.epoch AS acquired, mine.epoch AS held, l.owner_node, l.pid, l.host, l.since, c.next_seq,
        EXISTS (SELECT 1 FROM ${db.table('follows')} AS f WHERE f.conversation_id = w.id AND f.expires_at > now()) AS followed
      FROM unnest($1::text[]) AS w(id)
      LEFT JOIN acq ON acq.conversation_id = w.id
      LEFT JOIN mine ON mine.conversation_id = w.id
      LEFT JOIN ${leases} AS l ON l.conversation_id = w.id
      LEFT JOIN ${conversations} AS c ON c.id = w.id`;
    // Appends $1–$5 (id, first seq, next seq after, name or null, its key); creations $6–$16
    // (the same and the header); records $17–$20 (id, seq, type, line); messages $21–$24.
    this.#batch = `WITH a AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[]) AS a(id, first, next, name, name_key)),
      upd AS (
        UPDATE ${conversations} AS c SET next_seq = a.next, updated_ms = ${NOW_MS},
          name = COALESCE(a.name, c.name), name_key = COALESCE(a.name_key, c.name_key)
        FROM a WHERE c.id = a.id AND c.next_seq = a.first RETURNING c.id),
      ins AS (
        INSERT INTO ${conversations} (id, updated_ms, archived, name, name_key, first_seq, next_seq, ${HEADER})
        SELECT n.id, ${NOW_MS}, false, n.name, n.name_key, n.first, n.next, n.created_at, n.metadata::jsonb, n.model, n.cwd, n.forked_from::jsonb, n.meta::json
        FROM unnest($6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
          AS n(id, first, next, name, name_key, created_at, metadata, model, cwd, forked_from, meta)
        ON CONFLICT (id) DO NOTHING RETURNING id),
      written AS (SELECT id FROM upd UNION ALL SELECT id FROM ins),
      recs AS (
        INSERT INTO ${records} (conversation_id, seq, type, line)
        SELECT r.id, r.seq, r.type, r.line FROM unnest($17::text[], $18::bigint[], $19::text[], $20::text[]) AS r(id, seq, type, line)
        WHERE r.id IN (SELECT id FROM written)),
      hist AS (
        INSERT INTO ${history} (id, session_id, ts, text)
        SELECT h.id, h.session_id, h.ts, h.text FROM unnest($21::text[], $22::text[], $23::bigint[], $24::text[]) AS h(id, session_id, ts, text)
        WHERE h.session_id IN (SELECT id FROM written))
      SELECT x.id, x.id IN (SELECT id FROM written) AS written, c.next_seq AS expected
      FROM unnest(array_cat($1::text[], $6::text[])) AS x(id) LEFT JOIN ${conversations} AS c ON c.id = x.id`;
    // $1 id, $2 first seq, $3 next seq after, $4 name (null: unchanged), $5 its key, $6 types,
    // $7 lines, $8–$10 message ids, ts and texts; a creation adds $11–$16 (the header).
    const rest = `recs AS (
        INSERT INTO ${records} (conversation_id, seq, type, line)
        SELECT $1, $2 + r.n - 1, r.type, r.line FROM unnest($6::text[], $7::text[]) WITH ORDINALITY AS r(type, line, n)
        WHERE EXISTS (SELECT 1 FROM conv)),
      hist AS (
        INSERT INTO ${history} (id, session_id, ts, text)
        SELECT h.id, $1, h.ts, h.text FROM unnest($8::text[], $9::bigint[], $10::text[]) AS h(id, ts, text)
        WHERE EXISTS (SELECT 1 FROM conv))
      SELECT $1 AS id, EXISTS (SELECT 1 FROM conv) AS written, (SELECT next_seq FROM ${conversations} WHERE id = $1) AS expected`;
    this.#append = `WITH conv AS (
        UPDATE ${conversations} SET next_seq = $3, updated_ms = ${NOW_MS}, name = COALESCE($4, name), name_key = COALESCE($5, name_key)
        WHERE id = $1 AND next_seq = $2 RETURNING id),
      ${rest}`;
    this.#create = `WITH conv AS (
        INSERT INTO ${conversations} (id, updated_ms, archived, name, name_key, first_seq, next_seq, ${HEADER})
        VALUES ($1, ${NOW_MS}, false, $4, $5, $2, $3, $11, $12::jsonb, $13, $14, $15::jsonb, $16::json)
        ON CONFLICT (id) DO NOTHING RETURNING id),
      ${rest}`;
  }

  /** The state statement for the conversations `ids` (sorted), taking `toTake` and checking `held`; `take` are the lease parameters after the ids. */
  state(ids: readonly string[], toTake: readonly string[], take: readonly unknown[], held: readonly string[]): pg.QueryConfig {
    return { name: 'colloquy_commit_state', text: this.#state, values: [ids, toTake, ...take, held] };
  }

  /** Every write of a commit in one statement (each conversation at most once); returns per id whether it was written and the `next_seq` it found. */
  batch(writes: readonly Write[]): pg.QueryConfig {
    const append: unknown[][] = [[], [], [], [], []];
    const create: unknown[][] = Array.from({ length: 11 }, () => []);
    const recs: unknown[][] = [[], [], [], []];
    const hist: unknown[][] = [[], [], [], []];
    for (const write of writes) {
      const c = columnsOf(write);
      const row = [write.id, write.first.seq, write.last.seq + 1, c.name, c.nameKey, ...(c.header ?? [])];
      row.forEach((value, i) => (c.header ? create : append)[i]?.push(value));
      c.lines.forEach((line, i) => {
        recs[0]?.push(write.id);
        recs[1]?.push(write.first.seq + i);
        recs[2]?.push(c.types[i]);
        recs[3]?.push(line);
      });
      c.historyIds.forEach((id, i) => {
        hist[0]?.push(id);
        hist[1]?.push(write.id);
        hist[2]?.push(c.historyTs[i]);
        hist[3]?.push(c.historyTexts[i]);
      });
    }
    return { name: 'colloquy_commit_batch', text: this.#batch, values: [...append, ...create, ...recs, ...hist] };
  }

  /** One write alone (under its savepoint); returns whether it was written and the `next_seq` it found. */
  single(write: Write): pg.QueryConfig {
    const c = columnsOf(write);
    const values = [write.id, write.first.seq, write.last.seq + 1, c.name, c.nameKey, c.types, c.lines, c.historyIds, c.historyTs, c.historyTexts, ...(c.header ?? [])];
    return c.header ? { name: 'colloquy_commit_create', text: this.#create, values } : { name: 'colloquy_commit_append', text: this.#append, values };
  }
}
