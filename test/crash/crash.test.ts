/**
 * Crash trials (SPEC §5, durability `sync`): a child process running the BUILT package
 * (`test/crash/worker.mjs` imports `dist/src/index.js`) runs 50 conversations at once, each
 * running turns in a loop, and reports every acknowledged turn (a line written only after
 * `await convo.run(...)` resolved). It is SIGKILLed at a random moment, then a fresh runtime
 * on the same home must find:
 *
 * - every acknowledged turn in its conversation's log, completed, with its user message;
 * - every log resumable, and one more `run()` answering with the right turn number;
 * - no `seq` duplicated or skipped in any log (checked on the raw JSONL);
 * - a torn last line (if any) reported, moved to the `.torn` side file, and the log clean
 *   afterwards. SIGKILL rarely tears a line (the kernel stops a multi-page write only between
 *   pages), so every other trial also appends a partial line to one log after the kill, as a
 *   power loss mid-write would leave it ("simulated" in the summary).
 *
 * `npm test` runs CRASH_TRIALS (default 10) trials; e.g. `CRASH_TRIALS=200 npx vitest run
 * test/crash` runs 200. CRASH_SEED fixes the seeds (trial i uses seed CRASH_SEED + i);
 * CRASH_CONVERSATIONS changes the 50. A summary per trial and for the run goes to stderr.
 * Requires `npm run build` (npm test builds first).
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type LogIssue } from '../../src/index.js';
import { LogRecordSchema } from '../../src/protocol/records.js';
import { prng } from '../support/prng.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const WORKER = join(here, 'worker.mjs');
const DIST = join(here, '..', '..', 'dist', 'src', 'index.js');

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

const TRIALS = envInt('CRASH_TRIALS', 10);
const CONVERSATIONS = envInt('CRASH_CONVERSATIONS', 50);
const BASE_SEED = envInt('CRASH_SEED', Math.floor(Math.random() * 1_000_000_000));
/** Generous: a loaded 2-core machine. A trial normally takes 1–3 s. */
const TRIAL_TIMEOUT_MS = 90_000;
/** The worker must acknowledge its first turn within this (it normally takes well under 2 s). */
const FIRST_ACK_TIMEOUT_MS = 45_000;

interface Ack {
  readonly id: string;
  readonly turn: number;
  readonly turnId: string;
  readonly text: string;
}

interface TrialStats {
  readonly trial: number;
  readonly seed: number;
  readonly killAfterMs: number;
  readonly logs: number;
  readonly acked: number;
  readonly maxAckedPerConversation: number;
  readonly unackedCompleted: number;
  readonly interrupted: number;
  readonly tornReal: number;
  readonly tornSimulated: number;
  readonly ms: number;
}

const stats: TrialStats[] = [];


interface WorkerRun {
  readonly started: readonly string[];
  readonly acks: readonly Ack[];
  readonly killAfterMs: number;
  readonly stderr: string;
}

/** Run the worker until it has acknowledged a turn, then SIGKILL it `killAfterMs` later. */
function runWorker(home: string, seed: number, killAfterMs: number): Promise<WorkerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, home, String(CONVERSATIONS), String(seed)], {
      // stdin stays open (never written): the worker exits if this process goes away.
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, COLLOQUY_HOME: home, NODE_OPTIONS: '' },
    });
    let started: string[] | null = null;
    const acks: Ack[] = [];
    let buffered = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | null = null;
    let protocolError: Error | null = null;
    const firstAckTimer = setTimeout(() => {
      protocolError ??= new Error(`the worker acknowledged no turn within ${FIRST_ACK_TIMEOUT_MS} ms`);
      child.kill('SIGKILL');
    }, FIRST_ACK_TIMEOUT_MS);
    const onLine = (line: string): void => {
      if (line === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        protocolError ??= new Error(`the worker wrote a line that is not JSON: ${line.slice(0, 200)}`);
        return;
      }
      if (typeof value === 'object' && value !== null && 'started' in value) {
        started = (value as { started: string[] }).started;
        return;
      }
      acks.push(value as Ack);
      if (killTimer === null) {
        clearTimeout(firstAckTimer);
        killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        onLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    // `close`: the process is gone AND its pipes are drained, so every line it wrote was read.
    child.on('close', (code, signal) => {
      clearTimeout(firstAckTimer);
      if (killTimer) clearTimeout(killTimer);
      if (protocolError) return reject(new Error(`${protocolError.message}\nworker stderr:\n${stderr}`));
      if (signal !== 'SIGKILL') {
        return reject(new Error(`the worker ended by itself (code ${code}, signal ${signal}) instead of being killed:\n${stderr}`));
      }
      if (buffered !== '') {
        // A partial line: the write of an ack was cut. It was never acknowledged to anyone.
        buffered = '';
      }
      if (!started) return reject(new Error(`the worker was killed before it reported its conversations:\n${stderr}`));
      resolve({ started, acks, killAfterMs, stderr });
    });
  });
}

/** Every `.jsonl` log under `dir`, recursively. */
function logsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...logsUnder(path));
    else if (entry.name.endsWith('.jsonl')) out.push(path);
  }
  return out;
}

interface RawLog {
  /** Complete lines (records). */
  readonly records: number;
  /** The bytes after the last newline, if any (a torn last line). */
  readonly torn: Buffer | null;
}

/**
 * Check a log on the raw bytes: every complete line is a valid record, the first is
 * `session_meta`, and `seq` runs 0, 1, 2… with no duplicate and no gap.
 */
function checkRaw(path: string): RawLog {
  const bytes = readFileSync(path);
  const lastNl = bytes.lastIndexOf(0x0a);
  const complete = lastNl === -1 ? '' : bytes.toString('utf8', 0, lastNl);
  const torn = lastNl === bytes.length - 1 ? null : bytes.subarray(lastNl + 1);
  const lines = complete === '' ? [] : complete.split('\n');
  lines.forEach((line, i) => {
    const where = `${path}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${where}: not valid JSON: ${line.slice(0, 200)}`);
    }
    const parsed = LogRecordSchema.safeParse(value);
    if (!parsed.success) throw new Error(`${where}: not a valid record: ${parsed.error.message.slice(0, 500)}`);
    if (parsed.data.seq !== i) throw new Error(`${where}: seq ${parsed.data.seq}, expected ${i} (duplicated or skipped)`);
    if (i === 0 && parsed.data.type !== 'session_meta') throw new Error(`${where}: the first record is ${parsed.data.type}, not session_meta`);
  });
  return { records: lines.length, torn };
}

/** A partial record, as a write cut short by a power loss would leave it. */
function partialLine(seq: number, random: () => number): Buffer {
  const line = JSON.stringify({
    ts: new Date().toISOString(),
    seq,
    type: 'item',
    payload: { turn_id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', item: { id: 'item_999999', type: 'agent_message', text: 'cut short ☃'.repeat(20) } },
  });
  // Cut anywhere (also inside the UTF-8 bytes of the snowman) but keep at least one byte.
  const bytes = Buffer.from(line, 'utf8');
  return bytes.subarray(0, 1 + Math.floor(random() * (bytes.length - 1)));
}

async function trial(index: number): Promise<TrialStats> {
  const seed = BASE_SEED + index;
  const random = prng(seed);
  const killAfterMs = 50 + Math.floor(random() * 551);
  const t0 = Date.now();
  const home = mkdtempSync(join(tmpdir(), 'colloquy-crash-'));
  const context = `trial ${index + 1} (seed ${seed}, CRASH_SEED=${BASE_SEED}, killed ${killAfterMs} ms after the first ack, home ${home})`;
  let keep = false;
  try {
    const run = await runWorker(home, seed, killAfterMs);
    expect(run.started, context).toHaveLength(CONVERSATIONS);
    expect(run.acks.length, context).toBeGreaterThan(0);

    // ——— the raw logs, as the crash left them ———
    const paths = logsUnder(join(home, 'sessions'));
    const pathOf = new Map<string, string>();
    for (const path of paths) pathOf.set(path.slice(path.lastIndexOf('/') + 1, -'.jsonl'.length), path);
    expect([...pathOf.keys()].sort(), `${context}: the logs on disk are the conversations started`).toEqual([...run.started].sort());

    const before = new Map<string, RawLog>();
    for (const [id, path] of pathOf) before.set(id, checkRaw(path));
    const tornReal = [...before.values()].filter((r) => r.torn !== null).length;

    // Simulate a power loss mid-write in one log every other trial.
    let simulated: string | null = null;
    if (index % 2 === 1) {
      const ids = run.started.filter((id) => before.get(id)?.torn === null);
      const id = ids[Math.floor(random() * ids.length)];
      const raw = id !== undefined ? before.get(id) : undefined;
      if (id !== undefined && raw) {
        const path = pathOf.get(id) as string;
        appendFileSync(path, partialLine(raw.records, random));
        before.set(id, checkRaw(path));
        simulated = id;
      }
    }

    // ——— a fresh runtime on the same home ———
    const issues: LogIssue[] = [];
    const errors: unknown[] = [];
    const rt = createRuntime({ home, durability: 'sync', onLogIssue: (i) => issues.push(i), onError: (e) => errors.push(e) });
    let acked = 0;
    let maxAcked = 0;
    let unackedCompleted = 0;
    let interrupted = 0;
    const expectedTurn = new Map<string, number>();
    try {
      const acksById = new Map<string, Ack[]>();
      for (const ack of run.acks) {
        const list = acksById.get(ack.id) ?? [];
        list.push(ack);
        acksById.set(ack.id, list);
      }
      for (const id of run.started) {
        const where = `${context}, conversation ${id}`;
        const record = await rt.read(id);
        const acks = acksById.get(id) ?? [];
        maxAcked = Math.max(maxAcked, acks.length);
        acks.forEach((ack, i) => expect(ack.turn, `${where}: acks in order`).toBe(i + 1));
        for (const ack of acks) {
          const turn = record.turns.find((t) => t.id === ack.turnId);
          expect(turn, `${where}: acknowledged turn ${ack.turn} (${ack.turnId}) is in the log`).toBeDefined();
          if (!turn) continue;
          expect(turn.status, `${where}: acknowledged turn ${ack.turn}`).toBe('completed');
          expect(turn.number, `${where}: acknowledged turn ${ack.turnId}`).toBe(ack.turn);
          const user = turn.items.find((item) => item.type === 'user_message');
          expect(user?.type === 'user_message' ? user.text : undefined, `${where}: user message of turn ${ack.turn}`).toBe(ack.text);
          const agent = turn.items.find((item) => item.type === 'agent_message');
          expect(agent?.type === 'agent_message' ? agent.text : '', `${where}: answer of turn ${ack.turn}`).toMatch(new RegExp(`^Turn ${ack.turn}\\. `));
          acked++;
        }
        // The loop is sequential: besides the acknowledged turns there is at most the one
        // whose ack was not written yet and the one running at the kill.
        const lastAcked = acks.length;
        expect(record.turns.length, `${where}: turns beyond the last ack`).toBeLessThanOrEqual(lastAcked + 2);
        record.turns.forEach((t, i) => {
          if (i < record.turns.length - 1) expect(t.status, `${where}: turn ${t.number} (not the last)`).toBe('completed');
          else expect(['completed', 'running'], `${where}: last turn ${t.number}`).toContain(t.status);
        });
        unackedCompleted += record.turns.filter((t) => t.status === 'completed').length - lastAcked;
        if (record.turns.at(-1)?.status === 'running') interrupted++;
        expectedTurn.set(id, record.turns.length + record.pending.input.length + 1);
      }

      // Torn tails are reported on read.
      for (const [id, raw] of before) {
        const path = pathOf.get(id) as string;
        const reported = issues.some((i) => i.kind === 'torn_tail' && i.location === path);
        expect(reported, `${context}: torn tail of ${path} ${raw.torn ? 'must be' : 'must not be'} reported`).toBe(raw.torn !== null);
      }
      expect(
        issues.filter((i) => i.kind !== 'torn_tail'),
        `${context}: issues other than torn tails`,
      ).toEqual([]);

      // ——— every log resumes and runs one more turn ———
      await Promise.all(
        run.started.map(async (id) => {
          const convo = await rt.resume(id);
          const text = `after the crash: ${id}`;
          const result = await convo.run(text);
          const n = expectedTurn.get(id) as number;
          expect(result.finalResponse, `${context}, conversation ${id}: answer after resume`).toMatch(
            new RegExp(`^Turn ${n}\\. You said: "${text}"\\.`),
          );
        }),
      );
    } finally {
      await rt.shutdown();
    }
    // Nothing may go wrong in the fresh runtime. (This caught the message history's lock, left
    // behind by the killed worker, refusing every history append for 10 s: HistoryLockedError.)
    const historyLocked = errors.filter((e) => e instanceof Error && e.name === 'HistoryLockedError');
    expect(errors, `${context}: runtime errors${historyLocked.length > 0 ? ' (the killed worker left the history lock behind)' : ''}`).toEqual([]);

    // ——— afterwards: every log clean, torn bytes kept aside ———
    for (const [id, path] of pathOf) {
      const where = `${context}, ${path}`;
      const raw = before.get(id) as RawLog;
      const after = checkRaw(path);
      expect(after.torn, `${where}: still torn after resume`).toBeNull();
      expect(after.records, `${where}: records after one more turn`).toBeGreaterThanOrEqual(raw.records + 4);
      const side = `${path}.torn`;
      if (raw.torn) {
        expect(existsSync(side), `${where}: .torn side file`).toBe(true);
        expect(readFileSync(side).equals(raw.torn), `${where}: the .torn side file holds exactly the cut bytes`).toBe(true);
      } else {
        expect(existsSync(side), `${where}: no .torn side file for a clean log`).toBe(false);
      }
    }

    // A last read: the interrupted turns are closed, the new turn completed, nothing reported.
    const issuesAfter: LogIssue[] = [];
    const check = createRuntime({ home, onLogIssue: (i) => issuesAfter.push(i) });
    try {
      for (const id of run.started) {
        const record = await check.read(id);
        expect(record.turns.length, `${context}, ${id}: turns after resume`).toBe(expectedTurn.get(id));
        expect(record.turns.at(-1)?.status, `${context}, ${id}: the turn run after resume`).toBe('completed');
        expect(record.turns.filter((t) => t.status === 'running'), `${context}, ${id}: turns left running`).toEqual([]);
        for (const t of record.turns) {
          if (t.status === 'aborted') expect(t.reason, `${context}, ${id}: turn ${t.number} aborted`).toBe('restart');
        }
      }
    } finally {
      await check.shutdown();
    }
    expect(issuesAfter, `${context}: issues after repair`).toEqual([]);

    const result: TrialStats = {
      trial: index + 1,
      seed,
      killAfterMs,
      logs: pathOf.size,
      acked,
      maxAckedPerConversation: maxAcked,
      unackedCompleted,
      interrupted,
      tornReal,
      tornSimulated: simulated ? 1 : 0,
      ms: Date.now() - t0,
    };
    return result;
  } catch (err) {
    keep = process.env.CRASH_KEEP === '1';
    if (keep) console.error(`[crash] kept the home of the failed ${context}`);
    throw err;
  } finally {
    if (!keep) rmSync(home, { recursive: true, force: true });
  }
}

describe(`crash trials (${TRIALS}, SIGKILL under load, durability sync)`, () => {
  beforeAll(() => {
    if (!existsSync(DIST) || statSync(DIST).size === 0) throw new Error(`${DIST} is missing: run \`npm run build\` first (npm test does)`);
  });

  afterAll(() => {
    if (stats.length === 0) return;
    const total = stats.reduce((s, t) => s + t.acked, 0);
    const torn = stats.reduce((s, t) => s + t.tornReal, 0);
    const simulated = stats.reduce((s, t) => s + t.tornSimulated, 0);
    const interrupted = stats.reduce((s, t) => s + t.interrupted, 0);
    const ms = stats.reduce((s, t) => s + t.ms, 0);
    const min = Math.min(...stats.map((t) => t.acked));
    const max = Math.max(...stats.map((t) => t.acked));
    console.error(
      `[crash] summary: ${stats.length}/${TRIALS} trials passed (CRASH_SEED=${BASE_SEED}), ${total} acknowledged turns verified ` +
        `(per trial ${min}–${max}), ${interrupted} turns in flight at the kill closed as aborted, ` +
        `torn tails repaired: ${torn} real + ${simulated} simulated, ${(ms / 1000).toFixed(1)} s`,
    );
  });

  for (let i = 0; i < TRIALS; i++) {
    it(`trial ${i + 1}: every acknowledged turn survives SIGKILL; every log resumes`, async () => {
      const s = await trial(i);
      stats.push(s);
      console.error(
        `[crash] trial ${s.trial}/${TRIALS} seed ${s.seed}: killed ${s.killAfterMs} ms after the first ack; ` +
          `${s.logs} logs, ${s.acked} acked turns verified (max ${s.maxAckedPerConversation}/conversation), ` +
          `${s.unackedCompleted} completed but unacked, ${s.interrupted} in flight; torn ${s.tornReal} real + ${s.tornSimulated} simulated; ` +
          `${(s.ms / 1000).toFixed(1)} s`,
      );
    }, TRIAL_TIMEOUT_MS);
  }
});
