// Runs benchmarks: `node bench/run.mjs [name…] [--smoke]`. Each bench/<name>.ts is bundled
// and run in a fresh process (`--expose-gc`); it prints one JSON object, which is saved as
// bench/results/<name>.json (not in --smoke mode) and shown as a table.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const names = args.filter((a) => !a.startsWith('--'));
const all = readdirSync('bench').filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length)).sort();
const chosen = names.length > 0 ? names : all;
const out = mkdtempSync(join(tmpdir(), 'colloquy-bench-'));

const rows = [];
try {
  for (const name of chosen) {
    if (!all.includes(name)) throw new Error(`no benchmark ${name} (have: ${all.join(', ')})`);
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
    const stdout = execFileSync(process.execPath, ['--expose-gc', file, ...(smoke ? ['--smoke'] : [])], {
      env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    }).toString();
    const result = JSON.parse(stdout.trim().split('\n').at(-1));
    rows.push({ name, result });
    if (!smoke) writeFileSync(join('bench', 'results', `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}

for (const { name, result } of rows) {
  console.log(`\n${name}${smoke ? ' (smoke)' : ''}`);
  console.table(result.figures);
}
