/**
 * Idle conversations: start N conversations (10k and 100k; a memory store, and the file store
 * with durability sync; the local agent) and measure the time per start and the heap each idle
 * conversation holds (heap after GC with them resident, minus before, over N). Floor: a raw
 * XState root actor of a 5-state machine. Each case runs in its own process (`BENCH_CASE`), so
 * one case's garbage does not weigh on the next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createActor, setup } from 'xstate';
import { createRuntime, MemoryStore } from '../src/index.js';
import { asCase, report, runCase, smoke } from './machine.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

type Case = 'raw' | 'memory' | 'file';
interface Figure {
  conversations: number;
  totalMs: number;
  usPerStart: number;
  heapBytesPerConversation: number;
}

// Floor: raw XState root actors of a 5-state machine with a small context.
const floorMachine = setup({}).createMachine({
  context: { id: '', turns: 0, pending: 0, lastError: null as string | null, updatedAt: 0 },
  initial: 'idle',
  states: { idle: { on: { GO: 'active' } }, active: { on: { GO: 'processing' } }, processing: { on: { GO: 'error' } }, error: { on: { GO: 'closed' } }, closed: {} },
});

async function measure(kind: Case, n: number): Promise<Figure> {
  if (kind === 'raw') {
    const before = heap();
    const t0 = performance.now();
    const raw = [];
    for (let i = 0; i < n; i++) raw.push(createActor(floorMachine).start());
    const ms = performance.now() - t0;
    const bytes = (heap() - before) / n;
    for (const a of raw) a.stop();
    return { conversations: n, totalMs: Math.round(ms), usPerStart: +((ms * 1000) / n).toFixed(1), heapBytesPerConversation: Math.round(bytes) };
  }
  const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-idle-'));
  const runtime = createRuntime(kind === 'memory' ? { store: new MemoryStore(), history: { persistence: 'none' } } : { home });
  try {
    const before = heap();
    const t0 = performance.now();
    const conversations = await Promise.all(Array.from({ length: n }, () => runtime.start()));
    const ms = performance.now() - t0;
    const bytes = (heap() - before) / n;
    return { conversations: conversations.length, totalMs: Math.round(ms), usPerStart: +((ms * 1000) / n).toFixed(1), heapBytesPerConversation: Math.round(bytes) };
  } finally {
    await runtime.shutdown();
    rmSync(home, { recursive: true, force: true });
  }
}

if (!(await asCase<Case>(measure))) {
  const sizes = smoke ? [200] : (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number);
  const self = fileURLToPath(import.meta.url);
  const figures: Record<string, Figure> = {};
  for (const n of sizes) {
    for (const [kind, label] of [
      ['raw', 'raw XState actor (floor)'],
      ['memory', 'colloquy, memory store'],
      ['file', 'colloquy, file store (sync)'],
    ] as const) {
      figures[`${n} ${label}`] = runCase<Figure>(self, `${kind}:${n}`);
    }
  }
  report({ name: 'idle-conversations', sizes, figures: figures as unknown as Record<string, Record<string, unknown>> });
}
