/**
 * The Postgres store's tables and their versioned migrations. Every store brings its schema up
 * to date before its first query (`migrate`): the numbered steps it knows and the database
 * lacks run in one transaction under a transaction-scoped advisory lock of the schema, so
 * nodes starting at once migrate it once; each applied step is a row of `migrations`. A
 * database migrated by newer code (a version this code does not know) is refused.
 *
 * Tables (ids and seqs as the file store's):
 * - `conversations`: one row per conversation: the listing's columns (`created_at`,
 *   `updated_ms`, `archived`, `name` with `name_key` its lower case as JavaScript makes it,
 *   `metadata`, `model`, `cwd`, `forked_from`), the header's payload `meta`, and the log's
 *   `first_seq` and `next_seq`.
 * - `records`: one row per record: `line` is the record's exact JSON line (as the file store
 *   writes it, without the newline), `type` its type; key (`conversation_id`, `seq`).
 * - `leases`: one row per conversation ever leased: `owner_node` (null once released),
 *   `epoch` (the fencing token, raised by every new owner), `expires_at` (database time),
 *   and who holds it (`pid`, `host`, `since`).
 * - `history`: the global message history: `id` (a ULID), `session_id`, `ts` (Unix seconds), `text`.
 * - `follows`: which node follows which conversation another node owns (`expires_at`, renewed
 *   as leases are): a commit tells the log's growth (`NOTIFY`) only for followed conversations.
 * - `inbox`: messages between nodes too long for a `NOTIFY` payload, taken by their `to_node`.
 */
import { StoreError } from '../../errors.js';
import type { Database } from './database.js';

/** One migration: its version (1, 2, …), what it does, and its SQL given a function naming the schema's tables. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: (table: (name: string) => string) => string;
}

/** Every migration, oldest first; the schema version of this code is the last one's. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'conversations, records, leases and history',
    sql: (t) => `
      CREATE TABLE ${t('conversations')} (
        id text COLLATE "C" PRIMARY KEY,
        created_at text NOT NULL,
        updated_ms bigint NOT NULL,
        archived boolean NOT NULL DEFAULT false,
        name text,
        name_key text,
        metadata jsonb,
        model text NOT NULL,
        cwd text NOT NULL,
        forked_from jsonb,
        meta json NOT NULL,
        first_seq bigint NOT NULL,
        next_seq bigint NOT NULL
      );
      CREATE INDEX conversations_by_created ON ${t('conversations')} (archived, id);
      CREATE INDEX conversations_by_updated ON ${t('conversations')} (archived, updated_ms, id);
      CREATE TABLE ${t('records')} (
        conversation_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        type text NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (conversation_id, seq)
      );
      CREATE INDEX records_by_type ON ${t('records')} (conversation_id, type, seq);
      CREATE TABLE ${t('leases')} (
        conversation_id text COLLATE "C" PRIMARY KEY,
        owner_node text,
        epoch bigint NOT NULL,
        expires_at timestamptz NOT NULL,
        pid integer,
        host text,
        since timestamptz
      );
      CREATE TABLE ${t('history')} (
        id text COLLATE "C" PRIMARY KEY,
        session_id text NOT NULL,
        ts bigint NOT NULL,
        text text NOT NULL
      );
      CREATE INDEX history_by_session ON ${t('history')} (session_id, id);
    `,
  },
  {
    version: 2,
    name: 'follows and inbox of a cluster of nodes',
    sql: (t) => `
      CREATE TABLE ${t('follows')} (
        conversation_id text COLLATE "C" NOT NULL,
        node text NOT NULL,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (conversation_id, node)
      );
      CREATE TABLE ${t('inbox')} (
        id bigserial PRIMARY KEY,
        to_node text NOT NULL,
        payload text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX inbox_by_node ON ${t('inbox')} (to_node, id);
    `,
  },
];

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** SQLSTATEs of a missing schema or table: a database never migrated. */
const UNDEFINED = new Set(['3F000', '42P01']);

function wrongVersion(db: Database, found: number): StoreError {
  return new StoreError(
    `${db.description}: wrong schema version: the database is at version ${found} and this Colloquy knows versions up to ${SCHEMA_VERSION}; upgrade Colloquy on this node (or use another schema)`,
    { code: 'wrong_schema_version' },
  );
}

/**
 * Bring the store's schema up to this code's version (see the module doc).
 * @throws {StoreError} `wrong_schema_version` when the database is newer; `store_unavailable`
 *   when it cannot be reached; `store_error` when a migration fails (nothing of it remains).
 */
export async function migrate(db: Database): Promise<void> {
  const client = await db.connect('open the store');
  let broken = false;
  try {
    // Most starts find the schema current: one query, no lock.
    try {
      const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${db.table('migrations')}`);
      const found = rows[0]?.version ?? 0;
      if (found > SCHEMA_VERSION) throw wrongVersion(db, found);
      if (found === SCHEMA_VERSION) return;
    } catch (err) {
      if (!UNDEFINED.has((err as { code?: string }).code ?? '')) throw err;
    }
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`colloquy:${db.schema}`]);
      const { rows: schemas } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [db.schema]);
      if (schemas.length === 0) await client.query(`CREATE SCHEMA ${db.quotedSchema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${db.table('migrations')} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${db.table('migrations')}`);
      const found = rows[0]?.version ?? 0;
      if (found > SCHEMA_VERSION) throw wrongVersion(db, found);
      for (const step of MIGRATIONS) {
        if (step.version <= found) continue;
        await client.query(step.sql((name) => db.table(name)));
        await client.query(`INSERT INTO ${db.table('migrations')} (version, name) VALUES ($1, $2)`, [step.version, step.name]);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    }
  } catch (err) {
    throw db.error(err, 'migrate the store schema');
  } finally {
    client.release(broken);
  }
}
