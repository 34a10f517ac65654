/**
 * Passivation: N conversations (10k; a memory store, and the file store with durability sync in
 * a temporary home; the local agent) are started (dormant: no actor yet), each runs one turn
 * (active: actor and history fold resident), then they are left idle past `passivateAfterMs`
 * until the runtime has told `conversation.passivated` for every one (actor stopped, history
 * released). After each phase the heap is measured (after GC, minus the heap before the first
 * start, over N; the handles stay in an array throughout). Then every conversation runs a second
 * turn, which brings it back from its log (the answer must say `Turn 2`: its history survived;
 * `usPerRehydration` is that turn, wall clock over N), and a third with all of them active
 * (`usPerTurnAllActive`). `usPerFirstTurn` is the first turn, which wakes a dormant conversation.
 * Turns run 64 at a time. Each case runs in its own process (`BENCH_CASE`).
 *
 * Time is a stepped clock of the benchmark's own (the runtime's `clock` option): it stands still
 * while the turns run, so no conversation passivates before the active heap is measured, and one
 * step past the timeout lets the supervisor's next sweep find every conversation idle.
 * `BENCH_CLOCK=xstate` runs with XState's `SimulatedClock` instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedClock } from 'xstate';
import { createRuntime, MemoryStore, type Conversation, type RuntimeOptions } from '../src/index.js';
import { asCase, report, runCase, smoke } from './machine.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** Idle this long (ms of the bench clock) and a conversation is passivated. */
const PASSIVATE_AFTER_MS = 60_000;
/** Turns in flight at once. */
const CONCURRENCY = 64;
/** Give up waiting for the passivations after this long (wall clock). */
const PASSIVATION_DEADLINE_MS = 600_000;

type Clock = NonNullable<RuntimeOptions['clock']>;

/** A simulated clock: time moves only by `advance`, which runs every timer then due, earliest first. */
class SteppedClock implements Clock {
  #now = Date.now();
  #nextId = 0;
  readonly #timers = new Map<number, { due: number; fn: (...args: unknown[]) => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: (...args: unknown[]) => void, timeout: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { due: this.#now + Math.max(0, timeout), fn });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  advance(ms: number): void {
    this.#now += ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.due <= this.#now).sort(([a, ta], [b, tb]) => ta.due - tb.due || a - b);
      if (due.length === 0) return;
      for (const [id, timer] of due) {
        // Cleared or replaced by an earlier timer of this round: skip it.
        if (this.#timers.get(id) !== timer) continue;
        this.#timers.delete(id);
        timer.fn();
      }
    }
  }
}

type Case = 'memory' | 'file';
interface Figure {
  conversations: number;
  dormantBytesPerConversation: number;
  activeBytesPerConversation: number;
  passivatedBytesPerConversation: number;
  usPerFirstTurn: number;
  passivateAllMs: number;
  usPerRehydration: number;
  usPerTurnAllActive: number;
}

/** Run `fn` on every conversation, `CONCURRENCY` at a time; the wall-clock ms it took. */
async function each(conversations: readonly Conversation[], fn: (convo: Conversation, i: number) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < conversations.length) {
      const i = next++;
      await fn(conversations[i] as Conversation, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, conversations.length) }, worker));
  return performance.now() - t0;
}

/** Resolves once no file system request has been pending for a few turns of the event loop. */
async function ioQuiet(): Promise<void> {
  for (let quiet = 0; quiet < 10; ) {
    await new Promise((r) => setTimeout(r, 1));
    quiet = process.getActiveResourcesInfo().some((r) => r.startsWith('FSReq')) ? 0 : quiet + 1;
  }
}

const us = (ms: number, n: number): number => +((ms * 1000) / n).toFixed(1);

async function measure(kind: Case, n: number): Promise<Figure> {
  const xstateClock = process.env.BENCH_CLOCK === 'xstate';
  const clock = xstateClock ? new SimulatedClock() : new SteppedClock();
  if (clock instanceof SimulatedClock) clock.set(Date.now());
  const advance = (ms: number): void => (clock instanceof SimulatedClock ? clock.increment(ms) : clock.advance(ms));

  const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-passivation-'));
  const common = { clock, passivateAfterMs: PASSIVATE_AFTER_MS } as const;
  const runtime = createRuntime(kind === 'memory' ? { ...common, store: new MemoryStore(), history: { persistence: 'none' } } : { ...common, home, durability: 'sync' });
  let passivated = 0;
  let activated = 0;
  let allPassivated: (() => void) | null = null;
  runtime.subscribe((event) => {
    if (event.type === 'conversation.passivated' && ++passivated === n) allPassivated?.();
    if (event.type === 'conversation.activated') activated++;
  });
  try {
    const before = heap();
    const conversations = await Promise.all(Array.from({ length: n }, () => runtime.start()));
    const dormant = (heap() - before) / n;
    const notDormant = conversations.filter((c) => c.residency !== 'dormant').length;
    if (notDormant > 0) throw new Error(`${kind}: ${notDormant} of ${n} conversations not dormant after start`);

    const firstMs = await each(conversations, async (convo) => {
      const { finalResponse } = await convo.run('hello');
      if (!finalResponse.includes('Turn 1')) throw new Error(`${kind}: first turn of ${convo.id} answered ${JSON.stringify(finalResponse)}`);
    });
    const active = (heap() - before) / n;
    const notActive = conversations.filter((c) => c.residency !== 'active').length;
    if (notActive > 0 || passivated > 0) throw new Error(`${kind}: ${notActive} of ${n} conversations not active after a turn (${passivated} passivated)`);
    if (activated !== n) throw new Error(`${kind}: ${activated} activations for ${n} first turns`);

    // Idle past the timeout: every conversation's passivation timer is due at once.
    const t0 = performance.now();
    const done = new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`${kind}: ${passivated} of ${n} conversations passivated after ${PASSIVATION_DEADLINE_MS} ms`)), PASSIVATION_DEADLINE_MS);
      allPassivated = () => {
        clearTimeout(deadline);
        resolve();
      };
      if (passivated === n) allPassivated();
    });
    advance(PASSIVATE_AFTER_MS);
    await done;
    const passivateAllMs = performance.now() - t0;
    // Let what follows each passivation (the store closing its log, giving up its lease) finish.
    await ioQuiet();
    const passivatedBytes = (heap() - before) / n;
    const notPassivated = conversations.filter((c) => c.residency !== 'passivated').length;
    if (notPassivated > 0) throw new Error(`${kind}: ${notPassivated} of ${n} conversations not passivated after the conversation.passivated events`);

    // Bring them all back: a second turn on each, which must see the first.
    activated = 0;
    const rehydratingMs = await each(conversations, async (convo) => {
      const { finalResponse } = await convo.run('hello again');
      if (!finalResponse.includes('Turn 2')) throw new Error(`${kind}: ${convo.id} came back without its history: answered ${JSON.stringify(finalResponse)}`);
    });
    if (activated !== n) throw new Error(`${kind}: ${activated} activations for ${n} rehydrating turns`);
    // And a third on the conversation now active: the turn without the rehydration.
    const activeMs = await each(conversations, async (convo) => {
      const { finalResponse } = await convo.run('and once more');
      if (!finalResponse.includes('Turn 3')) throw new Error(`${kind}: third turn of ${convo.id} answered ${JSON.stringify(finalResponse)}`);
    });
    if (activated !== n) throw new Error(`${kind}: ${activated - n} conversations came back again during their third turn`);

    return {
      conversations: n,
      dormantBytesPerConversation: Math.round(dormant),
      activeBytesPerConversation: Math.round(active),
      passivatedBytesPerConversation: Math.round(passivatedBytes),
      usPerFirstTurn: us(firstMs, n),
      passivateAllMs: Math.round(passivateAllMs),
      usPerRehydration: us(rehydratingMs, n),
      usPerTurnAllActive: us(activeMs, n),
    };
  } finally {
    await runtime.shutdown();
    rmSync(home, { recursive: true, force: true });
  }
}

if (!(await asCase<Case>(measure))) {
  const n = smoke ? 200 : Number(process.env.BENCH_CONVERSATIONS ?? 10_000);
  const self = fileURLToPath(import.meta.url);
  const figures: Record<string, Figure> = {};
  for (const [kind, label] of [
    ['memory', 'colloquy, memory store'],
    ['file', 'colloquy, file store (sync)'],
  ] as const) {
    figures[`${n} ${label}`] = runCase<Figure>(self, `${kind}:${n}`);
  }
  report({
    name: 'passivation',
    conversations: n,
    passivateAfterMs: PASSIVATE_AFTER_MS,
    concurrency: CONCURRENCY,
    clock: process.env.BENCH_CLOCK === 'xstate' ? 'xstate SimulatedClock' : 'stepped (the benchmark’s own)',
    figures: figures as unknown as Record<string, Record<string, unknown>>,
  });
}
