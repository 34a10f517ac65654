/**
 * Fails the test file if any error escaped as an uncaught exception or an unhandled rejection
 * while it ran. Call once at the top level of a test file.
 */
import { afterAll, beforeAll, expect } from 'vitest';

export function expectNoEscapedErrors(): void {
  const escaped: unknown[] = [];
  const onEscape = (err: unknown): void => void escaped.push(err);
  beforeAll(() => {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  });
  afterAll(() => {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
    expect(escaped).toEqual([]);
  });
}
