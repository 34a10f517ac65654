/**
 * Interrupt latency: from `conversation.interrupt()` to the `turn.aborted` event, over N
 * turns each, for turns stopped (a) in a model request that waits on its AbortSignal (a
 * cooperative model client), and (b) in a running shell command (the process group is
 * killed). The `turn.aborted` event is emitted after the turn's end is durable (file store,
 * `sync`), so each figure includes one fsync. Reports median, p95 and max (ms).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, modelAgent, type Conversation, type ModelClient } from '../src/index.js';
import { median, report, smoke } from './machine.js';

const rounds = smoke ? 5 : Number(process.env.BENCH_ROUNDS ?? 100);

/** A model that never answers: it waits until its request is aborted. */
const hanging: ModelClient = {
  async *sample(request) {
    await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve(), { once: true }));
  },
};

/** A model that asks for a long command. */
const sleeper: ModelClient = {
  async *sample() {
    yield { type: 'tool_call', callId: `c${Math.random()}`, name: 'shell', arguments: JSON.stringify({ command: 'sleep 30' }) };
  },
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function waitFor(convo: Conversation, predicate: (type: string, itemType?: string) => boolean): Promise<number> {
  return new Promise((resolve) => {
    const stop = convo.subscribe((e) => {
      if (predicate(e.type, 'item' in e ? e.item.type : undefined)) {
        stop();
        resolve(performance.now());
      }
    });
  });
}

async function measure(label: string, client: ModelClient, ready: (type: string, itemType?: string) => boolean): Promise<Record<string, unknown>> {
  const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-int-'));
  const runtime = createRuntime({ home, agent: modelAgent({ client }) });
  const latencies: number[] = [];
  try {
    const convo = await runtime.start({ approvalPolicy: 'never' });
    for (let i = 0; i < rounds; i++) {
      const started = waitFor(convo, ready);
      const turn = convo.run(`round ${i}`).catch(() => {});
      await started;
      const aborted = waitFor(convo, (type) => type === 'turn.aborted');
      const t0 = performance.now();
      await convo.interrupt();
      latencies.push((await aborted) - t0);
      await turn;
    }
  } finally {
    await runtime.shutdown();
    rmSync(home, { recursive: true, force: true });
  }
  return {
    stoppedIn: label,
    rounds,
    medianMs: +median(latencies).toFixed(2),
    p95Ms: +percentile(latencies, 95).toFixed(2),
    maxMs: +Math.max(...latencies).toFixed(2),
  };
}

const figures: Record<string, Record<string, unknown>> = {};
figures['model request'] = await measure('a model request (cooperative client)', hanging, (type) => type === 'turn.started');
figures['shell command'] = await measure('a running `sleep 30`', sleeper, (type, item) => type === 'item.started' && item === 'command_execution');
report({ name: 'interrupt', target: 'turn aborted within 100 ms', figures });
