/**
 * Colloquy's per-turn overhead over a raw `openai` streaming call, against the same loopback
 * mock Responses server (in this process, answering each request with a short streamed text).
 *
 * N sequential turns of one conversation each way, interleaved turn by turn (so drift in the
 * machine's load hits every way alike):
 *
 * - `raw`: `client.responses.create({ stream: true })` consumed to the end, its input the same
 *   growing history a conversation sends (user and assistant messages so far);
 * - `colloquy, file, sync`: `convo.run()` with the model agent (`openaiResponsesClient`, no
 *   tools) on the file store with durability `sync` (the turn's records fsynced before it ends);
 * - `colloquy, file, none`: the same with durability `none` (written, not fsynced), to show
 *   what the fsyncs cost;
 * - `colloquy, memory`: the same on the memory store.
 *
 * Reports the median and p95 wall time per turn (ms) and the overhead over `raw` (ms, of the
 * medians and of the p95s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createRuntime, MemoryStore, modelAgent, openaiResponsesClient, type Conversation, type Durability, type Runtime } from '../src/index.js';
import { startMockResponses } from '../test/support/mock-responses.js';
import { median, report, smoke } from './machine.js';

const turns = smoke ? 5 : Number(process.env.BENCH_TURNS ?? 300);
const warmup = smoke ? 1 : 20;
const MODEL = 'bench-model';
const ANSWER = 'A short answer from the mock model, streamed in a few pieces.';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

const mock = await startMockResponses({
  fallback: { output: [{ type: 'message', text: ANSWER, chunks: ANSWER.match(/.{1,16}/g) ?? [ANSWER] }], usage: { input_tokens: 40, output_tokens: 12 } },
});

// The raw call: the openai package as an application would use it.
const raw = new OpenAI({ baseURL: mock.baseUrl, apiKey: 'sk-bench', maxRetries: 0 });
const rawHistory: OpenAI.Responses.ResponseInputItem[] = [];
async function rawTurn(text: string): Promise<void> {
  rawHistory.push({ type: 'message', role: 'user', content: text });
  const stream = await raw.responses.create({ model: MODEL, input: rawHistory, stream: true, store: false });
  let answer = '';
  for await (const event of stream) if (event.type === 'response.output_text.delta') answer += event.delta;
  if (answer !== ANSWER) throw new Error(`raw: unexpected answer ${JSON.stringify(answer)}`);
  rawHistory.push({ type: 'message', role: 'assistant', content: answer });
}

function colloquyRuntime(store: 'memory' | 'file', durability: Durability, home: string): Runtime {
  const agent = modelAgent({ client: openaiResponsesClient({ baseURL: mock.baseUrl, apiKey: 'sk-bench' }), tools: [] });
  return store === 'memory' ? createRuntime({ store: new MemoryStore(), agent, durability }) : createRuntime({ home, agent, durability });
}

async function colloquyTurn(convo: Conversation, text: string): Promise<void> {
  const result = await convo.run(text);
  if (result.finalResponse !== ANSWER) throw new Error(`colloquy: unexpected answer ${JSON.stringify(result.finalResponse)}`);
}

const homes = [mkdtempSync(join(tmpdir(), 'colloquy-bench-model-')), mkdtempSync(join(tmpdir(), 'colloquy-bench-model-'))] as const;
const runtimes = {
  'colloquy, file, sync': colloquyRuntime('file', 'sync', homes[0]),
  'colloquy, file, none': colloquyRuntime('file', 'none', homes[1]),
  'colloquy, memory': colloquyRuntime('memory', 'none', homes[0]),
};
const ways = ['raw', 'colloquy, file, sync', 'colloquy, file, none', 'colloquy, memory'] as const;
type Way = (typeof ways)[number];
const times: Record<Way, number[]> = { raw: [], 'colloquy, file, sync': [], 'colloquy, file, none': [], 'colloquy, memory': [] };
try {
  const convos = {
    'colloquy, file, sync': await runtimes['colloquy, file, sync'].start({ model: MODEL }),
    'colloquy, file, none': await runtimes['colloquy, file, none'].start({ model: MODEL }),
    'colloquy, memory': await runtimes['colloquy, memory'].start({ model: MODEL }),
  };
  const turn: Record<Way, (text: string) => Promise<void>> = {
    raw: rawTurn,
    'colloquy, file, sync': (text) => colloquyTurn(convos['colloquy, file, sync'], text),
    'colloquy, file, none': (text) => colloquyTurn(convos['colloquy, file, none'], text),
    'colloquy, memory': (text) => colloquyTurn(convos['colloquy, memory'], text),
  };
  for (let i = 0; i < warmup + turns; i++) {
    const text = `question ${i}: what comes next?`;
    // Rotate the order, so no way always runs right after another.
    for (let k = 0; k < ways.length; k++) {
      const way = ways[(i + k) % ways.length] as Way;
      const t0 = performance.now();
      await turn[way](text);
      const ms = performance.now() - t0;
      if (i >= warmup) times[way].push(ms);
    }
  }
} finally {
  for (const runtime of Object.values(runtimes)) await runtime.shutdown();
  await mock.close();
  for (const home of homes) rmSync(home, { recursive: true, force: true });
}

const rawMedian = median(times.raw);
const rawP95 = percentile(times.raw, 95);
const figures: Record<string, Record<string, unknown>> = {};
for (const way of ways) {
  const med = median(times[way]);
  const p95 = percentile(times[way], 95);
  figures[way] = {
    turns: times[way].length,
    medianMs: round(med),
    p95Ms: round(p95),
    overheadMedianMs: way === 'raw' ? 0 : round(med - rawMedian),
    overheadP95Ms: way === 'raw' ? 0 : round(p95 - rawP95),
  };
}
report({ name: 'model-overhead', turns, warmup, figures });
