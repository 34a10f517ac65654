/** What a benchmark records about the machine it ran on, and how it runs its cases. */
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export function machine(): Record<string, unknown> {
  const cpu = cpus();
  return { node: process.version, cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, memoryGiB: Math.round(totalmem() / 2 ** 30), date: new Date().toISOString() };
}

export const smoke = process.argv.includes('--smoke');

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Print the result object (the runner reads the last line). */
export function report(result: { name: string; figures: Record<string, Record<string, unknown>>; [k: string]: unknown }): void {
  process.stdout.write(`${JSON.stringify({ ...result, machine: machine() })}\n`);
}

/**
 * Run one case of the benchmark `file` in a fresh process (`BENCH_CASE=<name>`, `--expose-gc`,
 * an 8 GiB heap), so one case's garbage does not weigh on the next; resolves with the JSON of
 * the last line it prints.
 */
export function runCase<T>(file: string, name: string): T {
  const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', file], {
    env: { ...process.env, BENCH_CASE: name },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
  return JSON.parse(out.trim().split('\n').at(-1) as string) as T;
}

/** Run as one case (`kind:n` from `BENCH_CASE`): print what `measure` gives; returns whether this process was one. */
export async function asCase<K extends string>(measure: (kind: K, n: number) => Promise<unknown>): Promise<boolean> {
  const one = process.env.BENCH_CASE;
  if (!one) return false;
  const [kind, n] = one.split(':') as [K, string];
  process.stdout.write(`${JSON.stringify(await measure(kind, Number(n)))}\n`);
  return true;
}
