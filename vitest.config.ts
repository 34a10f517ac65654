import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // One PostgreSQL server for the run (the Postgres store's tests): COLLOQUY_TEST_POSTGRES_URL or a throwaway one.
    globalSetup: ['test/support/postgres-server.ts'],
    // Failures of listeners or timers must surface, not vanish.
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
