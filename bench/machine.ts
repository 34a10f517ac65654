/** What a benchmark records about the machine it ran on. */
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
