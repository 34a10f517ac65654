/**
 * Resume: logs of 1k, 10k, 100k and 1M records, resumed by a whole `colloquy exec resume <id>
 * --json "hi"` process (one more turn, durability sync): wall time and the process's peak RSS,
 * median of 3. Two kinds of log: with a compaction every 1,000 turns (as automatic compaction
 * keeps a long conversation's live context bounded), and without any (the whole history is
 * live). Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateLog } from './generate.js';
import { median, report, smoke } from './machine.js';

const sizes = smoke ? [1_000] : (process.env.BENCH_SIZES ?? '1000,10000,100000,1000000').split(',').map(Number);
const runs = smoke ? 1 : 3;

function resume(home: string, id: string): { ms: number; rssMb: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, 'dist/colloquy.cjs', 'exec', '--json', 'resume', id, 'hi'], {
    env: { ...process.env, COLLOQUY_HOME: home },
    encoding: 'utf8',
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`resume failed (${r.status}): ${r.stderr}`);
  const rssKb = Number(r.stderr.trim().split('\n').at(-1));
  return { ms, rssMb: Math.round(rssKb / 1024) };
}

const figures: Record<string, Record<string, unknown>> = {};
for (const compactEvery of [1_000, 0]) {
  for (const size of sizes) {
    const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-resume-'));
    try {
      const log = generateLog(home, size, compactEvery ? { compactEvery } : {});
      const results = Array.from({ length: runs }, () => resume(home, log.id));
      figures[`${size} records, ${compactEvery ? 'compacted every 1000 turns' : 'no compaction'}`] = {
        megabytes: +(log.bytes / 2 ** 20).toFixed(1),
        medianMs: Math.round(median(results.map((r) => r.ms))),
        peakRssMb: Math.max(...results.map((r) => r.rssMb)),
      };
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  }
}
report({ name: 'resume', runs, figures });
