/**
 * Fork: a conversation whose log holds 1k, 10k or 100k records (written by `generate.ts`) is
 * forked with `runtime.fork` (file store, durability sync), at the end (no options) and in the
 * middle (`beforeUserTurn` = half its user turns). The fork's log only references the source
 * (`forked_from`, `up_to_seq`). Two kinds of log: without compaction (the whole history is
 * live) and with a compaction every 1,000 turns (as automatic compaction keeps a long
 * conversation's live context bounded). Median ms of several forks, in a warm process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '../src/index.js';
import { generateLog } from './generate.js';
import { median, report, smoke } from './machine.js';

const sizes = smoke ? [1_000] : (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const runs = smoke ? 2 : 7;

const figures: Record<string, Record<string, unknown>> = {};
for (const compactEvery of [0, 1_000]) for (const size of sizes) {
  const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-fork-'));
  const runtime = createRuntime({ home, durability: 'sync' });
  try {
    const log = generateLog(home, size, compactEvery ? { compactEvery } : {});
    const userTurns = Math.floor((log.records - 1) / (compactEvery ? 4 + 3 / compactEvery : 4));
    for (const [where, options] of [
      ['end', {}],
      ['middle', { beforeUserTurn: Math.max(1, Math.floor(userTurns / 2)) }],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < runs + 1; i++) {
        const t0 = performance.now();
        const fork = await runtime.fork(log.id, options);
        const ms = performance.now() - t0;
        if (i > 0) times.push(ms); // the first one warms up
        await fork.close();
      }
      figures[`${size} records, ${compactEvery ? 'compacted every 1000 turns' : 'no compaction'}, fork at the ${where}`] = {
        megabytes: +(log.bytes / 2 ** 20).toFixed(1),
        medianMs: +median(times).toFixed(1),
        maxMs: +Math.max(...times).toFixed(1),
      };
    }
  } finally {
    await runtime.shutdown();
    rmSync(home, { recursive: true, force: true });
  }
}
report({ name: 'fork', runs, figures });
