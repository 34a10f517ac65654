import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { createRuntime, MemoryStore, type Conversation, type Runtime, type RuntimeOptions, type ThreadEvent } from '../../src/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A runtime shut down after the test. Default: a memory store. */
export function runtime(options: RuntimeOptions = {}): Runtime {
  const rt = createRuntime({ store: options.home ? undefined : new MemoryStore(), ...options } as RuntimeOptions);
  cleanups.push(() => rt.shutdown());
  return rt;
}

/** A temp directory removed after the test. */
export async function tempHome(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'colloquy-test-'));
  cleanups.unshift(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Resolve with the first event matching `predicate` (subscribing before anything happens). */
export function next<T extends ThreadEvent['type']>(
  conversation: Conversation,
  type: T,
  predicate: (event: Extract<ThreadEvent, { type: T }>) => boolean = () => true,
): Promise<Extract<ThreadEvent, { type: T }>> {
  return new Promise((resolve) => {
    const stop = conversation.subscribe((event) => {
      if (event.type === type && predicate(event as Extract<ThreadEvent, { type: T }>)) {
        stop();
        resolve(event as Extract<ThreadEvent, { type: T }>);
      }
    });
  });
}

/** Every event from now on. */
export function record(conversation: Conversation): ThreadEvent[] {
  const events: ThreadEvent[] = [];
  conversation.subscribe((e) => events.push(e));
  events.length = 0;
  return events;
}

/** A script turn that runs a (simulated) command needing approval, then answers. */
export const commandTurn = (command = 'echo hi') => ({
  steps: [
    { type: 'command' as const, command, output: 'hi\n', exit_code: 0 },
    { type: 'message' as const, text: 'done' },
  ],
});
