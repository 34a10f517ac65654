/**
 * CLI cold start: `colloquy exec --json "hi"` as a whole process (a new conversation, one
 * turn, durability sync), against a bare Node process, median of N runs each, interleaved so
 * both see the same machine noise. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, report, smoke } from './machine.js';

const runs = smoke ? 2 : 10;
const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-home-'));
const env = { ...process.env, COLLOQUY_HOME: home };
const time = (args: string[]): number => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
};
// Warm the file cache once.
time(['dist/colloquy.cjs', 'exec', '--json', 'warm']);
time(['-e', '0']);
const colloquy: number[] = [];
const bare: number[] = [];
for (let i = 0; i < runs; i++) {
  colloquy.push(time(['dist/colloquy.cjs', 'exec', '--json', 'hi']));
  bare.push(time(['-e', '0']));
}
rmSync(home, { recursive: true, force: true });
const c = median(colloquy);
const b = median(bare);
report({
  name: 'cli-startup',
  runs,
  figures: {
    'colloquy exec --json "hi"': { medianMs: Math.round(c), minMs: Math.round(Math.min(...colloquy)) },
    'node -e 0': { medianMs: Math.round(b), minMs: Math.round(Math.min(...bare)) },
    ratio: { colloquyOverBareNode: +(c / b).toFixed(2) },
  },
});
