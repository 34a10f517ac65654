/**
 * Usage errors: bad flags or arguments, exit code 2. They are recognised across the command
 * line's two bundles, whose classes differ, by their `exitCode`.
 */
import { ColloquyError } from '../../errors.js';

/** A usage error: bad flags or arguments (exit code 2). */
export class UsageError extends ColloquyError {
  /** The exit code of a command that ends with it. */
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super('usage_error', message, options);
    this.name = 'UsageError';
  }
}

/**
 * Run code of the lazily loaded bundle: its `UsageError` is another class than this bundle's,
 * so it is recognised by its `exitCode` and thrown again as ours (exit code 2).
 */
export async function lazily<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof UsageError) && (err as { exitCode?: unknown } | null)?.exitCode === 2) throw new UsageError((err as Error).message);
    throw err;
  }
}
