/**
 * The conversation systems the peer benchmarks compare, behind one shape: open a side, start
 * conversations on it, run turns, close it. Every side answers each turn instantly (no model
 * latency), so what is measured is the system's own cost per turn: bookkeeping, history and
 * persistence.
 *
 * - Colloquy: `createRuntime({ home, durability: 'sync' })` (file store), `convo.run(input)`,
 *   the built-in local agent.
 * - LangGraph JS: one compiled one-node `StateGraph(MessagesAnnotation)` whose node appends an
 *   `AIMessage`; a conversation is a `thread_id`; `graph.invoke({ messages: [user] },
 *   { configurable: { thread_id }, durability: 'sync' })`. With `MemorySaver` (in memory) and
 *   with `SqliteSaver` on a temporary file (better-sqlite3, WAL).
 * - OpenAI Agents SDK: `run(agent, input, { session })` with a `Model` that returns one
 *   assistant message at once (tracing off). With `MemorySession` (in memory, the only session
 *   the JS SDK ships) and with Colloquy's own durable session (`colloquySession`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type Runtime } from '../src/index.js';

/** One turn of one conversation: resolves once the turn's answer is (per the side) stored. */
export type Turn = (input: string) => Promise<void>;

export interface OpenSide {
  /** Start a conversation; returns how to run a turn in it. */
  conversation(): Promise<Turn>;
  close(): Promise<void>;
}

export interface Side {
  readonly label: string;
  /** Whether a completed turn survives a crash of the process, and how. */
  readonly durable: string;
  open(): Promise<OpenSide>;
}

/** Colloquy, file store, durability `sync`. */
export const colloquy: Side = {
  label: 'Colloquy (file store, sync)',
  durable: 'yes: a turn completes after its records are fsynced (group commit)',
  async open() {
    const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-peer-'));
    const runtime = createRuntime({ home, durability: 'sync' });
    return {
      async conversation() {
        const convo = await runtime.start();
        return async (input) => {
          await convo.run(input);
        };
      },
      async close() {
        await runtime.shutdown();
        rmSync(home, { recursive: true, force: true });
      },
    };
  },
};

async function langGraph(kind: 'memory' | 'sqlite'): Promise<OpenSide & { synchronous?: string }> {
  const { StateGraph, MessagesAnnotation, MemorySaver, START, END } = await import('@langchain/langgraph');
  const { AIMessage } = await import('@langchain/core/messages');
  let dir: string | null = null;
  let checkpointer;
  let synchronous: string | undefined;
  if (kind === 'sqlite') {
    const { SqliteSaver } = await import('@langchain/langgraph-checkpoint-sqlite');
    dir = mkdtempSync(join(tmpdir(), 'colloquy-bench-langgraph-'));
    const saver = SqliteSaver.fromConnString(join(dir, 'checkpoints.db'));
    // What SQLite does on commit (better-sqlite3's build default); reported with the figures.
    const db = (saver as unknown as { db: { pragma(s: string, o?: { simple: boolean }): unknown } }).db;
    synchronous = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][Number(db.pragma('synchronous', { simple: true }))];
    checkpointer = saver;
  } else {
    checkpointer = new MemorySaver();
  }
  let n = 0;
  const graph = new StateGraph(MessagesAnnotation)
    .addNode('agent', (state) => ({ messages: [new AIMessage(`Answer ${state.messages.length}: got it.`)] }))
    .addEdge(START, 'agent')
    .addEdge('agent', END)
    .compile({ checkpointer });
  return {
    ...(synchronous ? { synchronous } : {}),
    async conversation() {
      const config = { configurable: { thread_id: `thread-${++n}` }, durability: 'sync' as const };
      return async (input) => {
        await graph.invoke({ messages: [{ role: 'user', content: input }] }, config);
      };
    },
    async close() {
      if (dir) {
        (checkpointer as unknown as { db: { close(): void } }).db.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export const langGraphMemory: Side = {
  label: 'LangGraph JS (MemorySaver)',
  durable: 'no: checkpoints live in process memory',
  open: () => langGraph('memory'),
};

/**
 * Why LangGraph's `SqliteSaver` cannot run here, or null when it can: its native SQLite binding
 * (better-sqlite3) is not compiled by `npm ci` (the project's `allowScripts` skips its install
 * script, a build of several minutes); `npm run bench` builds it first (`bench/sqlite.mjs`).
 */
export function sqliteMissing(): string | null {
  try {
    const Database = require('better-sqlite3') as new (file: string) => { close(): void };
    new Database(':memory:').close();
    return null;
  } catch (err) {
    return `better-sqlite3 has no native binding (${(err as Error).message.split('\n')[0]}): run \`node bench/sqlite.mjs\` once, or \`npm run bench\``;
  }
}

/** Filled in by `open()`: SQLite's `synchronous` setting as the saver runs it. */
export const sqliteSetting: { synchronous?: string } = {};

export const langGraphSqlite: Side = {
  label: 'LangGraph JS (SqliteSaver)',
  get durable() {
    const s = sqliteSetting.synchronous;
    if (s === 'FULL' || s === 'EXTRA') return `yes: SQLite WAL, synchronous=${s} (fsync per commit), durability 'sync'`;
    return `against a process crash yes, against power loss not fully: SQLite WAL, synchronous=${s ?? '?'} (no fsync per commit), durability 'sync'`;
  },
  async open() {
    const side = await langGraph('sqlite');
    if (side.synchronous) sqliteSetting.synchronous = side.synchronous;
    return side;
  },
};

async function agentsSdk(session: 'memory' | 'colloquy'): Promise<OpenSide> {
  process.env.OPENAI_AGENTS_DISABLE_TRACING = '1';
  const sdk = await import('@openai/agents');
  sdk.setTracingDisabled(true);
  let responses = 0;
  const model: import('@openai/agents').Model = {
    async getResponse() {
      const id = ++responses;
      return {
        usage: new sdk.Usage({ inputTokens: 10, outputTokens: 5, totalTokens: 15 }),
        output: [{ id: `msg_${id}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: `Answer ${id}: got it.` }] }],
        responseId: `resp_${id}`,
      };
    },
    // eslint-disable-next-line require-yield
    async *getStreamedResponse() {
      throw new Error('not streamed');
    },
  };
  const agent = new sdk.Agent({ name: 'bench', instructions: 'Answer briefly.', model });
  let home: string | null = null;
  let runtime: Runtime | null = null;
  let colloquySession: ((runtime: Runtime) => import('@openai/agents').Session) | null = null;
  if (session === 'colloquy') {
    home = mkdtempSync(join(tmpdir(), 'colloquy-bench-agents-'));
    runtime = createRuntime({ home, durability: 'sync' });
    colloquySession = (await import('../src/clients/openai-agents/index.js')).colloquySession;
  }
  return {
    async conversation() {
      const s = runtime && colloquySession ? colloquySession(runtime) : new sdk.MemorySession();
      return async (input) => {
        await sdk.run(agent, input, { session: s });
      };
    },
    async close() {
      if (runtime) await runtime.shutdown();
      if (home) rmSync(home, { recursive: true, force: true });
    },
  };
}

export const agentsMemory: Side = {
  label: 'OpenAI Agents SDK (MemorySession)',
  durable: 'no: MemorySession keeps items in process memory (the JS SDK ships no durable session)',
  open: () => agentsSdk('memory'),
};

export const agentsColloquy: Side = {
  label: 'OpenAI Agents SDK (Colloquy session)',
  durable: "yes: colloquySession writes each addItems to a Colloquy log, durability 'sync'",
  open: () => agentsSdk('colloquy'),
};

export interface Workload {
  conversations: number;
  turns: number;
  /** Stop early (and say so) after this long (ms) or once the process's RSS passes this many bytes. */
  deadlineMs?: number;
  rssLimitBytes?: number;
}

export interface Measured {
  turns: number;
  seconds: number;
  turnsPerSecond: number;
  cpuUsPerTurn: number;
  /** Turns per second over the last tenth of each conversation's turns (set when asked). */
  lastTenthTurnsPerSecond?: number;
  stoppedEarly?: string;
}

/**
 * C conversations × T turns, all conversations concurrently (each runs its turns one after
 * another), after one warm-up turn each. Wall clock and process CPU (user + system).
 */
export async function measure(side: OpenSide, w: Workload, options: { lastTenth?: boolean } = {}): Promise<Measured> {
  const turnsOf = await Promise.all(Array.from({ length: w.conversations }, () => side.conversation()));
  await Promise.all(turnsOf.map((turn) => turn('warm up')));
  const deadline = w.deadlineMs ? performance.now() + w.deadlineMs : Infinity;
  let stopped: string | undefined;
  let done = 0;
  const tenthFrom = Math.floor(w.turns * 0.9);
  let tenthStart = Infinity;
  let tenthDone = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    turnsOf.map(async (turn) => {
      for (let i = 0; i < w.turns; i++) {
        if (stopped) return;
        if (performance.now() > deadline) stopped = `stopped after ${Math.round(w.deadlineMs! / 1000)} s`;
        else if (w.rssLimitBytes && i % 20 === 0 && process.memoryUsage.rss() > w.rssLimitBytes)
          stopped = `stopped at ${(w.rssLimitBytes / 2 ** 30).toFixed(0)} GiB RSS`;
        if (stopped) return;
        if (i === tenthFrom) tenthStart = Math.min(tenthStart, performance.now());
        await turn(`message ${i}: please look at the next part of the task`);
        done++;
        if (i >= tenthFrom) tenthDone++;
      }
    }),
  );
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const seconds = (t1 - t0) / 1000;
  const result: Measured = {
    turns: done,
    seconds: +seconds.toFixed(2),
    turnsPerSecond: Math.round(done / seconds),
    cpuUsPerTurn: Math.round((cpu.user + cpu.system) / Math.max(1, done)),
  };
  if (options.lastTenth && !stopped && tenthDone > 0) result.lastTenthTurnsPerSecond = Math.round(tenthDone / ((t1 - tenthStart) / 1000));
  if (stopped) result.stoppedEarly = `${stopped} (${done} of ${w.conversations * w.turns} turns)`;
  return result;
}

/** Open a side, measure, close it (also on failure). */
export async function withSide<T>(side: Side, f: (open: OpenSide) => Promise<T>): Promise<T> {
  const open = await side.open();
  try {
    return await f(open);
  } finally {
    await open.close();
  }
}

/** `a / b` to two decimals. */
export const ratio = (a: number, b: number): number => +(a / b).toFixed(2);
