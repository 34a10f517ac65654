/**
 * Colloquy next to the real Codex CLI (`@openai/codex`, its native binary), whole processes,
 * both talking to the same loopback mock of the Responses API (test/support/mock-responses.ts;
 * Colloquy through its model agent with `OPENAI_BASE_URL`, Codex through a custom model
 * provider), so neither touches the network. Run by `npm run bench:codex` only (it downloads
 * the Codex CLI, about 400 MB, once).
 *
 * (a) Resume: `codex exec resume <id> "hi"` on a Codex rollout of 1k / 10k / 100k lines (the
 *     second turn of a rollout Codex 0.169 wrote, repeated: bench/codex.ts) against
 *     `colloquy exec resume <id> "hi"` on a Colloquy log of as many records (bench/generate.ts),
 *     neither compacted, so each sends its whole history to the mock. Median wall time of N
 *     runs, interleaved, and the peak RSS of the process (`/usr/bin/time -f %M`).
 * (b) Cold start: `codex exec --json "hi"` against `colloquy exec --json "hi"` (a new
 *     conversation, one turn), median of 10, interleaved; also Colloquy with its local agent.
 * (c) Listing N conversations (default 10k and 100k), first page of 50 newest by creation: Codex's
 *     app-server `thread/list` over JSON-RPC on stdio (a new `codex app-server` per sample,
 *     after `initialize`), against `colloquy sessions list --json -n 50 --sort created` (a new
 *     process per sample). The first call on a new home (Codex scans the rollouts into its
 *     SQLite state DB, Colloquy builds its listing index) and the median of later calls.
 *
 * What cannot run (no Codex binary, a failing process) is reported as skipped, with the reason.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startMockResponses } from '../test/support/mock-responses.js';
import { appServerList, execArgs, findCodex, MOCK_MODEL, timed, writeCodexRollout, type CodexBinary, type Timed } from './codex.js';
import { generateLog } from './generate.js';
import { median, report, smoke } from './machine.js';

const sizes = smoke ? [1_000] : (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const runs = smoke ? 1 : Number(process.env.BENCH_RUNS ?? 5);
const startRuns = smoke ? 2 : 10;
const listSizes = smoke ? [200] : (process.env.BENCH_LIST_N ?? '10000,100000').split(',').map(Number);
const listRuns = smoke ? 2 : 5;
const cli = resolve('dist/colloquy.cjs');

const figures: Record<string, Record<string, unknown>> = {};
const codex = findCodex();
if ('skipped' in codex) {
  figures['codex comparison'] = { skipped: codex.skipped };
  report({ name: 'codex-compare', figures });
  process.exit(0);
}

const mock = await startMockResponses({
  fallback: { output: [{ type: 'message', text: 'Hi. This is the mock model answering.' }], usage: { input_tokens: 1200, cached_input_tokens: 1000, output_tokens: 9 } },
});
const scratch = mkdtempSync(join(tmpdir(), 'colloquy-bench-codex-'));

const codexEnv = (home: string): Record<string, string | undefined> => ({ ...process.env, ...(codex as CodexBinary).env, CODEX_HOME: home, MOCK_API_KEY: 'mock-key' });
const colloquyEnv = (home: string, model: boolean): Record<string, string | undefined> => {
  const env: Record<string, string | undefined> = { ...process.env, COLLOQUY_HOME: home };
  delete env.OPENAI_BASE_URL;
  delete env.OPENAI_API_KEY;
  delete env.CODEX_API_KEY;
  return model ? { ...env, OPENAI_BASE_URL: mock.baseUrl, OPENAI_API_KEY: 'mock-key' } : env;
};

/** Throws unless the run exited 0 and printed a completed turn. */
function ok(what: string, r: Timed): Timed {
  if (r.status !== 0 || !r.stdout.includes('"turn.completed"')) {
    throw new Error(`${what} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ').slice(0, 400)}`);
  }
  return r;
}

const summary = (rs: Timed[]): { medianMs: number; minMs: number; peakRssMb: number } => ({
  medianMs: Math.round(median(rs.map((r) => r.ms))),
  minMs: Math.round(Math.min(...rs.map((r) => r.ms))),
  peakRssMb: Math.max(...rs.map((r) => r.rssMb)),
});

async function section(label: string, f: () => Promise<void>): Promise<void> {
  try {
    await f();
  } catch (error) {
    figures[label] = { skipped: (error as Error).message.slice(0, 500) };
  }
}

try {
  // (b) Cold start.
  await section('cold start', async () => {
    const codexHome = mkdtempSync(join(scratch, 'codex-home-'));
    const work = mkdtempSync(join(scratch, 'work-'));
    const home = mkdtempSync(join(scratch, 'colloquy-home-'));
    const localHome = mkdtempSync(join(scratch, 'colloquy-local-'));
    const runCodex = async (): Promise<Timed> => ok('codex exec', await timed(codex.path, execArgs(mock.baseUrl, work, ['hi']), { env: codexEnv(codexHome), cwd: work }));
    const runColloquy = async (): Promise<Timed> =>
      ok('colloquy exec', await timed(process.execPath, [cli, 'exec', '--json', '--skip-git-repo-check', '--model', MOCK_MODEL, 'hi'], { env: colloquyEnv(home, true), cwd: work }));
    const runLocal = async (): Promise<Timed> => ok('colloquy exec (local agent)', await timed(process.execPath, [cli, 'exec', '--json', 'hi'], { env: colloquyEnv(localHome, false), cwd: work }));
    await runCodex();
    await runColloquy();
    await runLocal();
    const c: Timed[] = [];
    const y: Timed[] = [];
    const l: Timed[] = [];
    for (let i = 0; i < startRuns; i++) {
      c.push(await runCodex());
      y.push(await runColloquy());
      l.push(await runLocal());
    }
    const cs = summary(c);
    const ys = summary(y);
    figures['cold start: codex exec --json "hi"'] = cs;
    figures['cold start: colloquy exec --json "hi" (model agent, mock)'] = ys;
    figures['cold start: colloquy exec --json "hi" (local agent)'] = summary(l);
    figures['cold start: ratio Colloquy / Codex'] = { medianMs: +(ys.medianMs / cs.medianMs).toFixed(2), peakRssMb: +(ys.peakRssMb / cs.peakRssMb).toFixed(2) };
  });

  // (a) Resume.
  for (const size of sizes) {
    await section(`resume ${size} records`, async () => {
      const codexHome = mkdtempSync(join(scratch, 'codex-home-'));
      const work = mkdtempSync(join(scratch, 'work-'));
      const home = mkdtempSync(join(scratch, 'colloquy-home-'));
      try {
        const rollout = writeCodexRollout(codexHome, work, size);
        const log = generateLog(home, size);
        const runCodex = async (): Promise<Timed> =>
          ok(`codex exec resume (${size})`, await timed(codex.path, execArgs(mock.baseUrl, work, ['resume', rollout.id, 'hi']), { env: codexEnv(codexHome), cwd: work }));
        const runColloquy = async (): Promise<Timed> =>
          ok(
            `colloquy exec resume (${size})`,
            await timed(process.execPath, [cli, 'exec', '--json', '--skip-git-repo-check', '--model', MOCK_MODEL, 'resume', log.id, 'hi'], { env: colloquyEnv(home, true), cwd: work }),
          );
        // One unmeasured run each (Codex builds its state DB on a new home).
        await runCodex();
        await runColloquy();
        const c: Timed[] = [];
        const y: Timed[] = [];
        for (let i = 0; i < runs; i++) {
          c.push(await runCodex());
          y.push(await runColloquy());
        }
        const cs = summary(c);
        const ys = summary(y);
        figures[`resume ${size} records: codex exec resume`] = { megabytes: +(rollout.bytes / 2 ** 20).toFixed(1), ...cs };
        figures[`resume ${size} records: colloquy exec resume`] = { megabytes: +(log.bytes / 2 ** 20).toFixed(1), ...ys };
        figures[`resume ${size} records: ratio Colloquy / Codex`] = { medianMs: +(ys.medianMs / cs.medianMs).toFixed(2), peakRssMb: +(ys.peakRssMb / cs.peakRssMb).toFixed(2) };
      } finally {
        rmSync(codexHome, { recursive: true, force: true });
        rmSync(home, { recursive: true, force: true });
        rmSync(work, { recursive: true, force: true });
      }
    });
  }

  // (c) Listing.
  for (const n of listSizes) {
    await section(`list ${n}`, async () => {
      const codexHome = mkdtempSync(join(scratch, 'codex-home-'));
      const work = mkdtempSync(join(scratch, 'work-'));
      const home = mkdtempSync(join(scratch, 'colloquy-home-'));
      try {
        const now = Date.now();
        for (let i = 0; i < n; i++) {
          // Distinct seconds, as Codex names files by the second (newest = highest i).
          writeCodexRollout(codexHome, work, 1, { small: true, at: new Date(now - (n - i) * 1000) });
          generateLog(home, 5, { name: `conversation ${i}` });
        }
        const params = { limit: 50, sourceKinds: ['exec'], modelProviders: [] };
        const codexList = async (): Promise<{ listMs: number; totalMs: number }> => {
          const r = await appServerList(codex, codexEnv(codexHome), params);
          const count = r.result.data?.length ?? 0;
          if (count !== 50) throw new Error(`codex thread/list returned ${count} threads, expected 50`);
          return r;
        };
        const colloquyList = async (): Promise<Timed> => {
          const r = await timed(process.execPath, [cli, 'sessions', 'list', '--json', '-n', '50', '--sort', 'created'], { env: colloquyEnv(home, false) });
          const count = r.status === 0 ? (JSON.parse(r.stdout) as { items: unknown[] }).items.length : -1;
          if (count !== 50) throw new Error(`colloquy sessions list exited ${r.status} with ${count} items: ${r.stderr.slice(0, 300)}`);
          return r;
        };
        const codexFirst = await codexList();
        const colloquyFirst = await colloquyList();
        const c: Array<{ listMs: number; totalMs: number }> = [];
        const y: Timed[] = [];
        for (let i = 0; i < listRuns; i++) {
          c.push(await codexList());
          y.push(await colloquyList());
        }
        const cTotal = median(c.map((r) => r.totalMs));
        const yTotal = median(y.map((r) => r.ms));
        figures[`list ${n}: codex app-server thread/list (50)`] = {
          firstCallMs: Math.round(codexFirst.listMs),
          firstProcessMs: Math.round(codexFirst.totalMs),
          medianCallMs: Math.round(median(c.map((r) => r.listMs))),
          medianProcessMs: Math.round(cTotal),
        };
        figures[`list ${n}: colloquy sessions list --json (50)`] = {
          firstProcessMs: Math.round(colloquyFirst.ms),
          medianProcessMs: Math.round(yTotal),
          peakRssMb: Math.max(...y.map((r) => r.rssMb)),
        };
        figures[`list ${n}: ratio Colloquy / Codex`] = { medianProcessMs: +(yTotal / cTotal).toFixed(2), firstProcessMs: +(colloquyFirst.ms / codexFirst.totalMs).toFixed(2) };
      } finally {
        rmSync(codexHome, { recursive: true, force: true });
        rmSync(home, { recursive: true, force: true });
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
} finally {
  await mock.close();
  rmSync(scratch, { recursive: true, force: true });
}

report({ name: 'codex-compare', codex: codex.version, mockModel: MOCK_MODEL, runs, startRuns, figures });
