/**
 * Every default benchmark runs: `node bench/run.mjs --smoke` (each benchmark bundled and run in
 * its own process with small sizes) exits 0, and each one printed a JSON result with its name
 * and some figures. No timings are checked. Needs `npm run build` (some benchmarks run the CLI).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The benchmarks `node bench/run.mjs` runs without names: every bench/*.bench.ts but `codex-*`. */
async function defaultBenchmarks(): Promise<string[]> {
  return (await readdir('bench'))
    .filter((f) => f.endsWith('.bench.ts') && !f.startsWith('codex-'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort();
}

describe('benchmarks (smoke)', () => {
  it('runs every default benchmark, each printing a result with its name and figures', async () => {
    const out = await mkdtemp(join(tmpdir(), 'colloquy-bench-smoke-'));
    dirs.push(out);
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['bench/run.mjs', '--smoke'], { env: { ...process.env, BENCH_OUT: out }, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(code, stderr).toBe(0);

    const expected = await defaultBenchmarks();
    expect(expected.length).toBeGreaterThan(0);
    expect((await readdir(out)).sort()).toEqual(expected.map((n) => `${n}.json`));
    for (const name of expected) {
      const result = JSON.parse(await readFile(join(out, `${name}.json`), 'utf8')) as { name?: unknown; figures?: Record<string, unknown> };
      expect(result.name, name).toBe(name);
      expect(typeof result.figures, name).toBe('object');
      expect(Object.keys(result.figures ?? {}).length, name).toBeGreaterThan(0);
      for (const [row, values] of Object.entries(result.figures ?? {})) {
        expect(Object.keys(values as object).length, `${name}: ${row}`).toBeGreaterThan(0);
      }
      // The runner's table names each benchmark it ran.
      expect(stdout).toContain(`${name} (smoke)`);
    }
    // And the closing table of every figure.
    expect(stdout).toContain('All figures (smoke)');
  }, 300_000);
});
