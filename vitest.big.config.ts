import { defineConfig } from 'vitest/config';

/**
 * The huge-log suite (test/big/*.big.ts), kept out of `npm test`: it writes ~1 GB logs and
 * takes minutes. Run it after `npm run build`: `vitest run --config vitest.big.config.ts`.
 */
export default defineConfig({
  test: {
    include: ['test/big/**/*.big.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One big log at a time.
    fileParallelism: false,
    dangerouslyIgnoreUnhandledErrors: false,
  },
});
