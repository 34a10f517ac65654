/**
 * Fault trials of a cluster of three node processes on PostgreSQL (see `nemesis.ts`): SIGKILL
 * of a node, SIGSTOP past its lease then SIGCONT, and a restart of the database, mid-load.
 * `npm test` runs NEMESIS_TRIALS (default 1) trials of each; `npm run test:cluster` runs 50 of
 * each. NEMESIS_SEED fixes the seeds. A summary per trial and per fault goes to stderr
 * (trials, acknowledged turns, lost, double-written, failover times). Requires `npm run build`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedServer } from '../support/embedded-postgres.js';
import { runTrial, type Fault, type TrialResult } from './nemesis.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'src', 'store', 'postgres', 'index.js');
const TRIALS = Number(process.env.NEMESIS_TRIALS ?? 1);
const SEED = Number(process.env.NEMESIS_SEED ?? Math.floor(Math.random() * 1_000_000_000));

function summary(fault: Fault, results: readonly TrialResult[]): string {
  const failover = results.flatMap((r) => r.failoverMs).sort((a, b) => a - b);
  const at = (q: number) => (failover.length === 0 ? null : failover[Math.min(failover.length - 1, Math.floor(q * failover.length))]);
  return JSON.stringify({
    fault,
    trials: results.length,
    acknowledged: results.reduce((n, r) => n + r.acknowledged, 0),
    lost: results.reduce((n, r) => n + r.lost.length, 0),
    doubleWritten: results.reduce((n, r) => n + r.doubleWritten.length, 0),
    failoverMs: { p50: at(0.5), p99: at(0.99), max: failover.at(-1) ?? null, n: failover.length },
    refusedAfterPause: results.reduce((n, r) => n + r.refusedAfterPause, 0),
    errors: results.reduce<Record<string, number>>((all, r) => {
      for (const [code, n] of Object.entries(r.errors)) all[code] = (all[code] ?? 0) + n;
      return all;
    }, {}),
  });
}

function expectClean(result: TrialResult): void {
  expect(result.acknowledged).toBeGreaterThan(0);
  expect(result.lost).toEqual([]);
  expect(result.doubleWritten).toEqual([]);
  expect(result.gaps).toEqual([]);
  expect(result.escaped).toEqual([]);
  expect(result.unanswered).toEqual([]);
}

describe('a cluster under faults', () => {
  let own: EmbeddedServer | null = null;
  beforeAll(async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`);
    // The restart trials stop and start a server of their own (never the run's shared one).
    own = await startEmbeddedPostgres();
  }, 120_000);
  afterAll(async () => {
    await own?.remove();
  });

  const timeout = TRIALS * 90_000;
  for (const fault of ['kill', 'pause', 'restart'] as const) {
    it(`${fault}: nothing acknowledged is lost, nothing written twice, every conversation answers again`, async () => {
      const results: TrialResult[] = [];
      for (let i = 0; i < TRIALS; i++) {
        const url = fault === 'restart' ? (own as EmbeddedServer).url : inject('postgresUrl');
        const result = await runTrial({ fault, seed: SEED + i, url, ...(fault === 'restart' && own ? { server: own } : {}) });
        process.stderr.write(`nemesis ${fault} trial ${i + 1}/${TRIALS} seed ${result.seed}: ${result.acknowledged} acknowledged, ${result.lost.length} lost, ${result.doubleWritten.length} double-written, failover max ${Math.max(0, ...result.failoverMs)} ms, errors ${JSON.stringify(result.errors)} ${JSON.stringify(result.samples)}\n`);
        results.push(result);
        expectClean(result);
      }
      process.stderr.write(`nemesis summary ${summary(fault, results)}\n`);
    }, timeout);
  }
});
