/**
 * Vitest global setup: one PostgreSQL server for the whole run, for the Postgres store's
 * tests. With `COLLOQUY_TEST_POSTGRES_URL` set, that server is used and nothing is started;
 * otherwise a throwaway server (`embedded-postgres.ts`) is started, and stopped (its
 * directory removed) at teardown. The URL reaches the tests through `inject('postgresUrl')`
 * (see `postgres.ts`).
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of a PostgreSQL server for the tests, as the superuser (empty when none could be had). */
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.COLLOQUY_TEST_POSTGRES_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return async () => {};
  }
  const server = await startEmbeddedPostgres();
  project.provide('postgresUrl', server.url);
  return () => server.remove();
}
