/**
 * Huge log (SPEC §5: "Resume streams the log and starts from the last `compacted` record,
 * so memory follows the live context, not the file size"). NOT part of `npm test`: run it
 * with `npx vitest run --config vitest.big.config.ts` (after `npm run build`).
 *
 * A ~1 GB log of one conversation is written directly as JSONL by a fast generator
 * (`session_meta`, then turns of turn.started / item(user_message) / item(agent_message) /
 * turn.completed with realistic sizes, `seq` contiguous), then a child process running the
 * BUILT package resumes it with a fresh runtime and runs one more turn; its peak RSS must
 * stay under 256 MB. Two variants:
 *
 * - `plain` (only when asked for): no compaction. The live context IS the whole history,
 *   which a resume keeps in memory for the agent, so it cannot meet the target; this variant
 *   measures how far off it is. A real conversation that long has been compacted many times.
 * - `compacted`: a `compacted` record near the end (then a few hundred more turns). Memory
 *   must follow the live context (what follows the compaction), not the file size.
 *
 * Environment: BIG_LOG_MB (default 1024) sets the size, BIG_LOG_RSS_LIMIT_MB (default 256)
 * the target, BIG_LOG_VARIANTS (default `compacted`; `plain,compacted` for both) the variants, BIG_LOG_DIR the
 * directory for the temporary home (default the OS temp dir; it needs twice BIG_LOG_MB free
 * at most, one log at a time). Results go to stderr as `[big-log]` lines.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newConversationId } from '../../src/protocol/ids.js';
import { LogRecordSchema } from '../../src/protocol/records.js';
import { StorePaths } from '../../src/store/paths.js';
import { prng } from '../support/prng.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'resume-child.mjs');
const DIST = join(here, '..', '..', 'dist', 'src', 'index.js');
const TIME = '/usr/bin/time';

const TARGET_MB = Number(process.env.BIG_LOG_MB ?? 1024);
const RSS_LIMIT_MB = Number(process.env.BIG_LOG_RSS_LIMIT_MB ?? 256);
const VARIANTS = (process.env.BIG_LOG_VARIANTS ?? 'compacted').split(',').map((v) => v.trim());
const BASE_DIR = process.env.BIG_LOG_DIR ?? tmpdir();
/** Turns written after the compaction in the `compacted` variant (the live context). */
const TURNS_AFTER_COMPACTION = 300;

// ——— the generator ———


const WORDS = (
  'the a of to and in is it that for on with as this be are was by at or from an not but have ' +
  'function return const let value error file test build module import export type interface ' +
  'conversation turn agent message history resume log record sequence durable commit fsync ' +
  'café naïve 日本語 Ünïcödé — “quoted” ‘single’ …'
).split(' ');

/** A JSON-escaped text body (no surrounding quotes) of about `length` characters. */
function textBody(random: () => number, length: number): string {
  let text = '';
  while (text.length < length) {
    const r = random();
    if (r < 0.02) text += '\n\n';
    else if (r < 0.03) text += '\n- ';
    else if (r < 0.035) text += ' "quote" and \\backslash\\ ';
    else text += `${WORDS[Math.floor(random() * WORDS.length)]} `;
  }
  return JSON.stringify(text).slice(1, -1);
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A ULID-shaped id: the conversation's 10 time characters and a counter. */
function turnIdOf(conversationId: string, n: number): string {
  let suffix = '';
  for (let v = n, i = 0; i < 16; i++, v = Math.floor(v / 32)) suffix = CROCKFORD[v % 32] + suffix;
  return conversationId.slice(0, 10) + suffix;
}

interface Generated {
  readonly home: string;
  readonly id: string;
  readonly path: string;
  readonly bytes: number;
  readonly records: number;
  /** Turns in the log (compaction turn included). */
  readonly turns: number;
  /** Text of the last user message. */
  readonly lastUserText: string;
  readonly ms: number;
}

/**
 * Write a log of about `targetBytes` for a new conversation under a new home. With
 * `compactBeforeLast`, a compaction turn is written that many turns before the end.
 */
function generate(targetBytes: number, compactBeforeLast: number | null, seed = 42): Generated {
  const t0 = performance.now();
  const random = prng(seed);
  const home = mkdtempSync(join(BASE_DIR, 'colloquy-big-'));
  const id = newConversationId();
  const paths = new StorePaths(home);
  mkdirSync(paths.dayDir(id, false), { recursive: true, mode: 0o700 });
  const path = paths.log(id, false);
  const fd = openSync(path, 'w', 0o600);
  // Pools of pre-escaped texts with realistic sizes: user messages 100 B – 3 KB, answers 500 B – 9 KB.
  const userPool = Array.from({ length: 97 }, () => textBody(random, 100 + Math.floor(random() ** 2 * 2900)));
  const agentPool = Array.from({ length: 89 }, () => textBody(random, 500 + Math.floor(random() ** 1.5 * 8500)));
  const config = { model: 'local', cwd: '/work/project', approvalPolicy: 'on-request' as const };
  const startMs = Date.parse('2025-01-01T00:00:00.000Z');
  let seq = 0;
  let bytes = 0;
  let item = 0;
  let turns = 0;
  const usage = { input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_output_tokens: 0 };
  let chunk: string[] = [];
  let chunkLength = 0;
  const emit = (line: string): void => {
    chunk.push(line);
    chunkLength += line.length;
    seq++;
    if (chunkLength > 8 * 1024 * 1024) flush();
  };
  const flush = (): void => {
    if (chunk.length === 0) return;
    bytes += writeSync(fd, chunk.join(''));
    chunk = [];
    chunkLength = 0;
  };
  const ts = (): string => new Date(startMs + seq * 1500).toISOString();
  const usageJson = (): string =>
    `{"input_tokens":${usage.input_tokens},"cached_input_tokens":${usage.cached_input_tokens},"output_tokens":${usage.output_tokens},"reasoning_output_tokens":${usage.reasoning_output_tokens}}`;

  emit(
    `${JSON.stringify({
      ts: ts(),
      seq: 0,
      type: 'session_meta',
      payload: { format: 1, id, created_at: new Date(startMs).toISOString(), config, name: 'big log', source: 'colloquy' },
    })}\n`,
  );

  let lastUserText = '';
  const regularTurn = (n: number, last: boolean): void => {
    const tid = turnIdOf(id, n);
    turns++;
    emit(`{"ts":"${ts()}","seq":${seq},"type":"event","payload":{"type":"turn.started","turn_id":"${tid}","kind":"regular","submission_id":"${tid}"}}\n`);
    const user = last ? 'final question before the resume' : `turn ${turns}: ${userPool[n % userPool.length]}`;
    if (last) lastUserText = user;
    emit(
      `{"ts":"${ts()}","seq":${seq},"type":"item","payload":{"turn_id":"${tid}","item":{"id":"item_${item++}","type":"user_message","text":"${user}","submission_id":"${tid}"}}}\n`,
    );
    const answer = agentPool[(n * 7) % agentPool.length] as string;
    emit(`{"ts":"${ts()}","seq":${seq},"type":"item","payload":{"turn_id":"${tid}","item":{"id":"item_${item++}","type":"agent_message","text":"Turn ${turns}. ${answer}"}}}\n`);
    const turnUsage = { input: 200 + (n % 500), output: 300 + (n % 900) };
    usage.input_tokens += turnUsage.input;
    usage.cached_input_tokens += Math.floor(turnUsage.input / 2);
    usage.output_tokens += turnUsage.output;
    emit(
      `{"ts":"${ts()}","seq":${seq},"type":"event","payload":{"type":"turn.completed","turn_id":"${tid}","usage":${usageJson()},"turn_usage":{"input_tokens":${turnUsage.input},"cached_input_tokens":${Math.floor(turnUsage.input / 2)},"output_tokens":${turnUsage.output},"reasoning_output_tokens":0}}}\n`,
    );
  };
  const compactionTurn = (n: number): void => {
    const tid = turnIdOf(id, n);
    turns++;
    emit(`{"ts":"${ts()}","seq":${seq},"type":"event","payload":{"type":"turn.started","turn_id":"${tid}","kind":"compact","submission_id":"${tid}"}}\n`);
    emit(
      `${JSON.stringify({
        ts: ts(),
        seq,
        type: 'compacted',
        payload: {
          turn_id: tid,
          summary: `The user said, in order: ${textBody(random, 4000)}`,
          kept_from_seq: seq,
          kept_turns: 0,
          next_item: item,
          turns,
          usage,
          config,
          name: 'big log',
          session_approvals: [],
        },
      })}\n`,
    );
    emit(
      `{"ts":"${ts()}","seq":${seq},"type":"event","payload":{"type":"turn.completed","turn_id":"${tid}","usage":${usageJson()},"turn_usage":{"input_tokens":0,"cached_input_tokens":0,"output_tokens":0,"reasoning_output_tokens":0}}}\n`,
    );
  };

  // Estimate the bytes per turn from the pools to place the compaction `compactBeforeLast` turns before the end.
  const avg = (pool: readonly string[]): number => pool.reduce((s, t) => s + Buffer.byteLength(t), 0) / pool.length;
  const perTurn = avg(userPool) + avg(agentPool) + 900;
  const plannedTurns = Math.max(1, Math.round(targetBytes / perTurn));
  const compactAt = compactBeforeLast === null ? -1 : Math.max(0, plannedTurns - compactBeforeLast);
  for (let n = 0; n < plannedTurns; n++) {
    if (n === compactAt) compactionTurn(n + 1_000_000);
    regularTurn(n, n === plannedTurns - 1);
  }
  flush();
  closeSync(fd);
  return { home, id, path, bytes, records: seq, turns, lastUserText, ms: performance.now() - t0 };
}

/** Check the first and last lines of a generated log against the record schema (guards the generator). */
function spotCheck(log: Generated): void {
  const fd = openSync(log.path, 'r');
  try {
    const size = statSync(log.path).size;
    expect(size).toBe(log.bytes);
    const window = Math.min(size, 256 * 1024);
    const head = Buffer.alloc(window);
    const tail = Buffer.alloc(window);
    readSync(fd, head, 0, window, 0);
    readSync(fd, tail, 0, window, size - window);
    const headSeqs = head.toString('utf8').split('\n').slice(0, -1).map((l) => LogRecordSchema.parse(JSON.parse(l)).seq);
    const tailSeqs = tail.toString('utf8').split('\n').slice(1, -1).map((l) => LogRecordSchema.parse(JSON.parse(l)).seq);
    headSeqs.forEach((seq, i) => expect(seq).toBe(i));
    tailSeqs.forEach((seq, i) => expect(seq).toBe(log.records - tailSeqs.length + i));
  } finally {
    closeSync(fd);
  }
}

// ——— the child ———

interface ChildReport {
  readonly resumeMs: number;
  readonly runMs: number;
  readonly answer: string;
  readonly historyItems: number | null;
  readonly rssAfterResumeMB: number;
  readonly heapUsedAfterResumeMB: number;
  readonly heapUsedAfterGcMB: number | null;
  readonly maxRssMB: number;
  readonly issues: unknown[];
}

interface ChildOutcome {
  readonly report: ChildReport | null;
  /** Peak RSS measured by /usr/bin/time (MB), when available. */
  readonly timePeakMB: number | null;
  readonly wallMs: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

function resumeInChild(home: string, id: string): Promise<ChildOutcome> {
  const useTime = existsSync(TIME);
  const marker = '@@peak-kb=';
  const command = useTime ? TIME : process.execPath;
  const node = [process.execPath, '--expose-gc', CHILD, home, id];
  const args = useTime ? ['-f', `${marker}%M`, ...node] : node.slice(1);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      let report: ChildReport | null = null;
      try {
        report = line ? (JSON.parse(line) as ChildReport) : null;
      } catch {
        report = null;
      }
      const peak = new RegExp(`${marker}(\\d+)`).exec(stderr);
      resolve({
        report,
        timePeakMB: peak ? Math.round(Number(peak[1]) / 102.4) / 10 : null,
        wallMs: performance.now() - t0,
        code,
        signal,
        stderr: stderr.replace(new RegExp(`${marker}\\d+\\n?`), ''),
      });
    });
  });
}

/** Source files (src/, machines/) modified after `time`. */
function sourcesNewerThan(root: string, time: number): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && statSync(path).mtimeMs > time) out.push(path.slice(root.length + 1));
    }
  };
  walk(join(root, 'src'));
  walk(join(root, 'machines'));
  return out;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

let current: Generated | null = null;
afterEach(() => {
  if (current) rmSync(current.home, { recursive: true, force: true });
  current = null;
});

describe(`huge log (${TARGET_MB} MB): resume with peak RSS under ${RSS_LIMIT_MB} MB`, () => {
  beforeAll(() => {
    if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` first`);
    // The child runs the build: say so when the sources are newer (it would measure old code).
    const built = statSync(DIST).mtimeMs;
    const newer = sourcesNewerThan(join(here, '..', '..'), built);
    if (newer.length > 0) console.error(`[big-log] WARNING: dist/ is older than ${newer.slice(0, 3).join(', ')}${newer.length > 3 ? '…' : ''}: run \`npm run build\``);
  });

  const cases: { variant: string; compactBeforeLast: number | null; why: string }[] = [
    { variant: 'plain', compactBeforeLast: null, why: 'no compaction: the live context is the whole history' },
    { variant: 'compacted', compactBeforeLast: TURNS_AFTER_COMPACTION, why: `a compacted record ${TURNS_AFTER_COMPACTION} turns before the end` },
  ];
  for (const c of cases.filter((k) => VARIANTS.includes(k.variant))) {
    it(`${c.variant} (${c.why}): resumes, answers the next turn, peak RSS < ${RSS_LIMIT_MB} MB`, async () => {
      const log = generate(TARGET_MB * 1024 * 1024, c.compactBeforeLast);
      current = log;
      spotCheck(log);
      console.error(
        `[big-log] ${c.variant}: generated ${mb(log.bytes)} (${log.records.toLocaleString('en')} records, ${log.turns.toLocaleString('en')} turns) in ${(log.ms / 1000).toFixed(1)} s`,
      );
      const out = await resumeInChild(log.home, log.id);
      const r = out.report;
      const peakMB = out.timePeakMB ?? r?.maxRssMB ?? null;
      console.error(
        `[big-log] ${c.variant}: ${r ? `resume ${(r.resumeMs / 1000).toFixed(1)} s, next turn ${r.runMs} ms, RSS after resume ${r.rssAfterResumeMB} MB (heap ${r.heapUsedAfterResumeMB} MB, ${r.heapUsedAfterGcMB ?? '?'} MB retained after a GC), history items ${r.historyItems}, ` : ''}` +
          `peak RSS ${peakMB ?? '?'} MB (/usr/bin/time: ${out.timePeakMB ?? 'n/a'} MB, maxRSS: ${r?.maxRssMB ?? 'n/a'} MB), child wall ${(out.wallMs / 1000).toFixed(1)} s` +
          `${out.code !== 0 ? `, exit ${out.code ?? out.signal}` : ''}; target < ${RSS_LIMIT_MB} MB`,
      );
      expect(out.code, `the child failed:\n${out.stderr.slice(-4000)}`).toBe(0);
      expect(r, `no report from the child:\n${out.stderr.slice(-4000)}`).not.toBeNull();
      if (!r) return;
      expect(r.issues).toEqual([]);
      // The agent answers the next turn and remembers the last message before the resume.
      expect(r.answer).toMatch(new RegExp(`^Turn ${log.turns + 1}\\. You said: "one more question after the resume"\\. Before that you said: "${log.lastUserText}"\\.`));
      expect(peakMB, 'peak RSS (MB)').not.toBeNull();
      expect(peakMB as number, `peak RSS of the resuming process (MB) for a ${mb(log.bytes)} log`).toBeLessThan(RSS_LIMIT_MB);
    }, 60 * 60_000);
  }
});
