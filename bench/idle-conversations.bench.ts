/**
 * Idle conversations: start N conversations (file store, durability sync, local agent) and
 * measure the time per start and the heap each idle conversation holds (heap after GC with
 * them resident, minus before, over N). Floor: a raw XState root actor of a 5-state machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, setup } from 'xstate';
import { createRuntime } from '../src/index.js';
import { report, smoke } from './machine.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const n = smoke ? 200 : Number(process.env.BENCH_N ?? 10_000);

// Floor: raw XState root actors of a 5-state machine with a small context.
const floorMachine = setup({}).createMachine({
  context: { id: '', turns: 0, pending: 0, lastError: null as string | null, updatedAt: 0 },
  initial: 'idle',
  states: { idle: { on: { GO: 'active' } }, active: { on: { GO: 'processing' } }, processing: { on: { GO: 'error' } }, error: { on: { GO: 'closed' } }, closed: {} },
});
let before = heap();
let t0 = performance.now();
const raw = [];
for (let i = 0; i < n; i++) raw.push(createActor(floorMachine).start());
const rawMs = performance.now() - t0;
const rawBytes = (heap() - before) / n;
for (const a of raw) a.stop();
raw.length = 0;

const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-idle-'));
const runtime = createRuntime({ home });
before = heap();
t0 = performance.now();
const conversations = await Promise.all(Array.from({ length: n }, () => runtime.start()));
const startMs = performance.now() - t0;
const bytes = (heap() - before) / n;
const resident = conversations.length;
await runtime.shutdown();
rmSync(home, { recursive: true, force: true });

report({
  name: 'idle-conversations',
  n,
  figures: {
    colloquy: { conversations: resident, totalMs: Math.round(startMs), usPerStart: +((startMs * 1000) / n).toFixed(1), heapBytesPerConversation: Math.round(bytes) },
    'raw XState actor (floor)': { conversations: n, totalMs: Math.round(rawMs), usPerStart: +((rawMs * 1000) / n).toFixed(1), heapBytesPerConversation: Math.round(rawBytes) },
  },
});
