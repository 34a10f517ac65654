/**
 * Durable turn throughput: C concurrent conversations × T turns each, the local agent (no
 * delay), file store with durability `sync` (every turn's end fsynced before it is
 * acknowledged), group commit. Reports turns per second (wall clock) and main-thread CPU per
 * turn (µs; includes the agent, which is trivial here). Also `none` and a memory store, to show
 * what durability costs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, MemoryStore, type Durability } from '../src/index.js';
import { report, smoke } from './machine.js';

const conversations = smoke ? 20 : Number(process.env.BENCH_CONVERSATIONS ?? 1_000);
const turns = smoke ? 3 : Number(process.env.BENCH_TURNS ?? 20);

async function run(label: string, durability: Durability, memory: boolean): Promise<Record<string, unknown>> {
  const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-tput-'));
  const runtime = createRuntime(memory ? { store: new MemoryStore(), durability } : { home, durability });
  try {
    const convos = await Promise.all(Array.from({ length: conversations }, () => runtime.start()));
    // Warm up: one turn each.
    await Promise.all(convos.map((c) => c.run('warm up')));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      convos.map(async (c) => {
        for (let i = 0; i < turns; i++) await c.run(`turn ${i}`);
      }),
    );
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const total = conversations * turns;
    return {
      store: label,
      durability,
      turns: total,
      seconds: +(ms / 1000).toFixed(2),
      turnsPerSecond: Math.round(total / (ms / 1000)),
      cpuUsPerTurn: Math.round((cpu.user + cpu.system) / total),
    };
  } finally {
    await runtime.shutdown();
    rmSync(home, { recursive: true, force: true });
  }
}

const figures: Record<string, Record<string, unknown>> = {};
figures['file, sync'] = await run('file', 'sync', false);
figures['file, none'] = await run('file', 'none', false);
figures['memory'] = await run('memory', 'none', true);
report({ name: 'throughput', conversations, turnsEach: turns, figures });
