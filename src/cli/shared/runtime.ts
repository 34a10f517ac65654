/**
 * A runtime for one command, always shut down.
 */
import type { Runtime, RuntimeOptions } from '../../runtime/runtime.js';
import { createRuntime } from '../../runtime/runtime.js';

/**
 * Run `fn` with a runtime on `home`, and shut the runtime down afterwards (also when `fn`
 * throws), so leases are released and every record is durable before the command exits.
 */
export async function withRuntime<T>(home: string, fn: (runtime: Runtime) => Promise<T>, options: Omit<RuntimeOptions, 'home' | 'store'> = {}): Promise<T> {
  const runtime = createRuntime({ ...options, home });
  let result: T;
  try {
    result = await fn(runtime);
  } catch (err) {
    await runtime.shutdown().catch(() => {});
    throw err;
  }
  await runtime.shutdown();
  return result;
}
