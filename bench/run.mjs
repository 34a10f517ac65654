// Runs benchmarks: `node bench/run.mjs [name…] [--smoke] [--codex]`. Each bench/<name>.bench.ts
// is bundled and run in a fresh process (`--expose-gc`); it prints one JSON object, which is
// saved as bench/results/<name>.json (not in --smoke mode) and shown as a table.
//
// Without names it runs every benchmark except those named `codex-*`, which compare against
// the real Codex CLI (a large download) and run only with `--codex` (`npm run bench:codex`)
// or when named. At the end it prints every figure of the run as one table.
//
// With BENCH_OUT=<dir>, each result is also written to <dir>/<name>.json (in any mode).
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const codex = args.includes('--codex');
const names = args.filter((a) => !a.startsWith('--'));
const all = readdirSync('bench')
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
const isCodex = (name) => name.startsWith('codex-');
const chosen = names.length > 0 ? names : all.filter((name) => isCodex(name) === codex);
for (const name of chosen) if (!all.includes(name)) throw new Error(`no benchmark ${name} (have: ${all.join(', ')})`);
// Bundles go inside the project so that the external packages resolve from its node_modules.
mkdirSync(join('node_modules', '.cache'), { recursive: true });
const out = resolve(mkdtempSync(join('node_modules', '.cache', 'colloquy-bench-')));

const rows = [];
const failed = [];
try {
  for (const name of chosen) {
    const file = join(out, `${name}.mjs`);
    buildSync({
      entryPoints: [`bench/${name}.bench.ts`],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
      external: ['@openai/*', '@langchain/*', 'better-sqlite3'],
      banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
    });
    const t0 = performance.now();
    let stdout;
    try {
      stdout = execFileSync(process.execPath, ['--expose-gc', file, ...(smoke ? ['--smoke'] : [])], {
        env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' },
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 64 * 1024 * 1024,
      }).toString();
    } catch (error) {
      failed.push(name);
      console.error(`${name}: failed (${error.status ?? error.signal ?? error.message})`);
      continue;
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    const result = JSON.parse(stdout.trim().split('\n').at(-1));
    rows.push({ name, result });
    console.log(`\n${name}${smoke ? ' (smoke)' : ''}: ${seconds} s`);
    console.table(result.figures);
    if (!smoke) writeFileSync(join('bench', 'results', `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    if (process.env.BENCH_OUT) writeFileSync(join(process.env.BENCH_OUT, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

// Every figure of the run in one table: benchmark, row, figure, value.
const table = [];
for (const { name, result } of rows) {
  for (const [row, values] of Object.entries(result.figures ?? {})) {
    for (const [figure, value] of Object.entries(values ?? {})) {
      if (typeof value === 'number' || (typeof value === 'string' && value.length <= 60)) table.push({ benchmark: name, row, figure, value });
    }
  }
}
if (table.length > 0) {
  console.log(`\nAll figures${smoke ? ' (smoke)' : ''}`);
  console.table(table);
}
if (failed.length > 0) {
  console.error(`failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
