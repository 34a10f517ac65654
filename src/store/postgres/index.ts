/**
 * The Postgres store: conversation logs, the listing, write leases and the message history in
 * PostgreSQL, for a cluster of runtime nodes sharing one database (see `PostgresStore`).
 * `postgresStore(options)` from `colloquy/postgres`; importing `colloquy` does not load `pg`.
 */
export { PostgresStore, postgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { SCHEMA_VERSION } from './schema.js';
