/**
 * The connection to PostgreSQL shared by the modules of the Postgres store: a pool of
 * connections, where it points (for messages, never the password), the store's schema, and
 * errors turned into `StoreError`s a person can act on. Every query first waits until the
 * schema is migrated (`ready`, lazy: the first query of the store runs the migrations).
 */
import pg from 'pg';
import { parse } from 'pg-connection-string';
import { ColloquyError, StoreError } from '../../errors.js';
import type { Metadata } from '../../protocol/records.js';

/** Where the pool connects: host (or socket directory), port, database and user. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

/** How to connect: a connection string and/or pool settings (those win), and the schema. */
export interface DatabaseOptions {
  readonly connectionString?: string | undefined;
  readonly pool?: Omit<pg.PoolConfig, 'connectionString'> | undefined;
  readonly schema: string;
}

/** A schema name the store accepts: a plain identifier, so it needs no quoting rules beyond double quotes. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Errors of the connection itself, not of one statement (Node's socket errors and the server going away). */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT']);
/** SQLSTATE classes and codes that mean the server cannot serve this store at all. */
const SERVER_GONE = /^(08|57P0[123]|53300)/;

/** The endpoint a configuration resolves to, with libpq's environment variables and pg's defaults. */
export function endpointOf(options: DatabaseOptions): Endpoint {
  const fromUrl = options.connectionString ? parse(options.connectionString) : { host: null, port: null, database: null };
  const pool = options.pool ?? {};
  const env = process.env;
  const user = pool.user ?? (typeof fromUrl.user === 'string' && fromUrl.user !== '' ? fromUrl.user : undefined) ?? env.PGUSER ?? pg.defaults.user ?? 'postgres';
  return {
    host: pool.host ?? fromUrl.host ?? env.PGHOST ?? pg.defaults.host ?? 'localhost',
    port: Number(pool.port ?? fromUrl.port ?? env.PGPORT ?? pg.defaults.port ?? 5432),
    database: pool.database ?? fromUrl.database ?? env.PGDATABASE ?? user,
    user,
  };
}

/** The pool, the schema and the error wording of one Postgres store. */
export class Database {
  readonly pool: pg.Pool;
  /** The pool's settings (for a connection of its own, such as the cluster's `LISTEN` connection). */
  readonly config: pg.PoolConfig;
  /** The schema's name, as given. */
  readonly schema: string;
  /** Where the pool connects. */
  readonly endpoint: Endpoint;
  /** `postgres store at <host>/<database> (schema <schema>)`, for messages. */
  readonly description: string;
  /** The schema's name quoted as an SQL identifier. */
  readonly quotedSchema: string;
  #ready: Promise<void> | null = null;
  readonly #migrate: (db: Database) => Promise<void>;

  /**
   * @param migrate brings the schema up to date; run by the first query (again after a failure).
   * @throws {StoreError} when the schema name is not a plain identifier.
   */
  constructor(options: DatabaseOptions, migrate: (db: Database) => Promise<void>) {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new StoreError(`invalid postgres schema name ${JSON.stringify(options.schema)}: use letters, digits and _ (at most 63, not starting with a digit)`);
    }
    this.schema = options.schema;
    this.quotedSchema = pg.escapeIdentifier(options.schema);
    this.endpoint = endpointOf(options);
    this.description = `postgres store at ${this.endpoint.host}/${this.endpoint.database} (schema ${options.schema})`;
    this.#migrate = migrate;
    this.config = {
      // A host that does not answer fails a query after 10 s instead of hanging it.
      connectionTimeoutMillis: 10_000,
      ...(options.connectionString !== undefined ? { connectionString: options.connectionString } : {}),
      ...options.pool,
    };
    this.pool = new pg.Pool(this.config);
    // An idle connection the server closed (a restart): the pool drops it and the next query opens another.
    this.pool.on('error', () => {});
  }

  /** Where a conversation's log is, for messages and `LogIssue.location`: `postgres:<schema>/<id>`. */
  location(id: string): string {
    return `postgres:${this.schema}/${id}`;
  }

  /** A table of the store's schema, schema-qualified and quoted, for SQL text. */
  table(name: string): string {
    return `${this.quotedSchema}.${name}`;
  }

  /** Wait until the schema is migrated (the first call runs the migrations; a failed run is tried again by the next call). */
  ready(): Promise<void> {
    this.#ready ??= this.#migrate(this).catch((err: unknown) => {
      this.#ready = null;
      throw err;
    });
    return this.#ready;
  }

  /**
   * Run one statement after `ready`; `what` names the operation for messages. Named
   * statements are prepared once per connection.
   * @throws {StoreError} for any failure (see `error`).
   */
  async query<R extends pg.QueryResultRow>(what: string, statement: pg.QueryConfig | string, values?: readonly unknown[]): Promise<R[]> {
    await this.ready();
    try {
      const config = typeof statement === 'string' ? { text: statement } : statement;
      const result = await this.pool.query<R>({ ...config, ...(values !== undefined ? { values: [...values] } : {}) });
      return result.rows;
    } catch (err) {
      throw this.error(err, what);
    }
  }

  /**
   * Run `fn` in one transaction on one connection after `ready`: committed when it resolves,
   * rolled back when it throws.
   * @throws {StoreError} for a failure of the database; `fn`'s own Colloquy errors as they are.
   */
  async transaction<T>(what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    const client = await this.connect(what);
    let broken = false;
    try {
      await client.query('BEGIN');
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      broken = isConnectionError(err);
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw this.error(err, what);
    } finally {
      client.release(broken);
    }
  }

  /** A connection of the pool (release it). @throws {StoreError} when the database cannot be reached. */
  async connect(what: string): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.error(err, what);
    }
    // The server going away while the connection is checked out (a restart) is an `error` event
    // of the client: without a listener it would crash the process. The query in progress fails.
    const ignore = (): void => {};
    client.on('error', ignore);
    const release = client.release.bind(client);
    client.release = (broken?: boolean | Error) => {
      client.off('error', ignore);
      client.release = release;
      release(broken);
    };
    return client;
  }

  /**
   * A failure as a `StoreError` a person can act on: the address for an unreachable server,
   * the user for a refused login, the database when it does not exist, else the operation,
   * the server's message and its SQLSTATE. Colloquy errors pass unchanged.
   */
  error(err: unknown, what: string): ColloquyError {
    if (err instanceof ColloquyError) return err;
    const { host, port, database, user } = this.endpoint;
    const e = err as { code?: string; message?: string; errors?: { code?: string }[] } | null;
    const code = e?.code ?? e?.errors?.[0]?.code;
    const message = e?.message || String(err);
    if (code !== undefined && CONNECTION_CODES.has(code)) {
      return new StoreError(`cannot reach the postgres server at ${host}:${port} (${code}: ${message}) while trying to ${what}: check that it is running and that the host and port are right`, { cause: err, code: 'store_unavailable' });
    }
    if (/timeout/i.test(message) && e?.code === undefined) {
      return new StoreError(`the postgres server at ${host}:${port} did not answer in time (${message}) while trying to ${what}: check that it is running and reachable`, { cause: err, code: 'store_unavailable' });
    }
    if (code === '28P01' || code === '28000') {
      return new StoreError(`the postgres server at ${host}:${port} refused user ${user} (${message}): check the user and password`, { cause: err, code: 'store_unavailable' });
    }
    if (code === '3D000') {
      return new StoreError(`the postgres server at ${host}:${port} has no database ${database}: create it or correct the connection string`, { cause: err, code: 'store_unavailable' });
    }
    if (code !== undefined && SERVER_GONE.test(code)) {
      return new StoreError(`the postgres server at ${host}:${port} cannot serve ${this.description} (${message}, SQLSTATE ${code}) while trying to ${what}`, { cause: err, code: 'store_unavailable' });
    }
    if (isConnectionError(err)) {
      return new StoreError(`lost the connection to the postgres server at ${host}:${port} (${message}) while trying to ${what}: check that it is running; the next operation connects again`, { cause: err, code: 'store_unavailable' });
    }
    return new StoreError(`${this.description}: could not ${what}: ${message}${code !== undefined ? ` (SQLSTATE ${code})` : ''}`, { cause: err });
  }
}

/** Whether an error means the connection itself is gone (so it must not go back to the pool). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  if (code !== undefined && (CONNECTION_CODES.has(code) || SERVER_GONE.test(code))) return true;
  return /Connection terminated|not queryable|Client has encountered a connection error/i.test((err as Error | null)?.message ?? '');
}

/**
 * A string as a text column can hold it: PostgreSQL text (and jsonb) cannot hold NUL, so a NUL
 * is kept as U+FFFD in the listing's columns and the history (the records keep it, JSON-escaped).
 */
export function pgText(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
}

/** Metadata as its jsonb column holds it (see `pgText`), for the column and for filters on it. */
export function pgMetadata(metadata: Metadata): Metadata {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [pgText(k), typeof v === 'string' ? pgText(v) : v]));
}
