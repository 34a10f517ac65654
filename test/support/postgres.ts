/**
 * Postgres stores for tests, on the run's server (`postgres-server.ts`): each store made by
 * `postgresTestStore` gets a fresh schema unless told one, is closed after its test, and its
 * schema is dropped then (so a real server named by COLLOQUY_TEST_POSTGRES_URL is left as it was).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterEach, inject } from 'vitest';
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres/index.js';

/** The URL of the run's PostgreSQL server. */
export function postgresUrl(): string {
  return inject('postgresUrl');
}

/** A new schema name, unused so far. */
export function freshSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

const stores: PostgresStore[] = [];
const schemas = new Set<string>();

/** A store on the test server, in a fresh schema (or `options.schema`), closed and dropped after the test. */
export function postgresTestStore(options: PostgresStoreOptions = {}): PostgresStore {
  const schema = options.schema ?? freshSchema();
  schemas.add(schema);
  const store = new PostgresStore({ connectionString: postgresUrl(), pool: { max: 4 }, ...options, schema });
  stores.push(store);
  return store;
}

/** Run SQL on the test server as its superuser, outside any store (to corrupt a line, check a table). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  const dropped = [...schemas];
  schemas.clear();
  if (dropped.length > 0) await adminQuery(dropped.map((s) => `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`).join('; '));
});
