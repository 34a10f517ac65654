/**
 * The real Codex CLI for the comparison benchmarks (`codex-*.bench.ts`, run by
 * `npm run bench:codex`): finding or installing the binary, synthetic Codex homes (rollouts of
 * any size, built from a rollout the same Codex version wrote), running `codex exec` against the
 * loopback mock Responses server, and the app-server's `thread/list` over JSON-RPC on stdio.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const CODEX_VERSION = process.env.CODEX_VERSION ?? '0.169.0';

export interface CodexBinary {
  /** The native executable (not the npm package's Node launcher, so timings hold no extra Node start). */
  readonly path: string;
  readonly version: string;
  readonly env: Record<string, string>;
}

/**
 * `$CODEX_BIN`, or `@openai/codex@<CODEX_VERSION>` installed into a temporary prefix (kept
 * between runs; about 400 MB). Returns the reason when neither works.
 */
export function findCodex(): CodexBinary | { skipped: string } {
  try {
    let launcher = process.env.CODEX_BIN;
    if (!launcher) {
      const prefix = join(tmpdir(), `colloquy-codex-cli-${CODEX_VERSION}`);
      launcher = join(prefix, 'node_modules/.bin/codex');
      if (!existsSync(launcher)) {
        process.stderr.write(`installing @openai/codex@${CODEX_VERSION} into ${prefix} (about 400 MB)…\n`);
        execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--no-save', `@openai/codex@${CODEX_VERSION}`], { stdio: ['ignore', 2, 2] });
      }
    }
    // The npm package's launcher is a Node script that spawns the native binary; use the binary.
    const packageRoot = resolve(dirname(launcher), '..', '@openai', 'codex');
    const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
    const triple = `${arch}-unknown-linux-musl`;
    const vendor = join(dirname(packageRoot), `codex-linux-${process.arch}`, 'vendor', triple);
    const native = join(vendor, 'bin', 'codex');
    const path = existsSync(native) ? native : launcher;
    const env: Record<string, string> = { CODEX_MANAGED_BY_NPM: '1', RUST_LOG: 'error', NO_COLOR: '1' };
    if (existsSync(native)) {
      env.CODEX_MANAGED_PACKAGE_ROOT = packageRoot;
      env.PATH = `${join(vendor, 'codex-path')}:${process.env.PATH ?? ''}`;
    }
    const version = execFileSync(path, ['--version'], { encoding: 'utf8', env: { ...process.env, ...env } }).trim();
    return { path, version, env };
  } catch (error) {
    return { skipped: `the Codex CLI could not be installed or run: ${(error as Error).message.split('\n')[0]}` };
  }
}

export { MOCK_MODEL, codexExecArgs as execArgs } from '../scripts/codex-exec.mjs';

export interface Timed {
  ms: number;
  rssMb: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run a whole process under `/usr/bin/time -f %M` (its peak RSS, KiB) and time it. Asynchronous,
 * so that a server in this process (the mock) keeps answering.
 */
export function timed(command: string, args: string[], options: { env: Record<string, string | undefined>; cwd?: string; timeoutMs?: number }): Promise<Timed> {
  const useTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const child = spawn(useTime ? '/usr/bin/time' : command, useTime ? ['-f', '%M', command, ...args] : args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
  return new Promise((resolveRun, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const lines = stderr.trim().split('\n');
      const rssKb = useTime ? Number(lines.at(-1)) : NaN;
      resolveRun({ ms, rssMb: Math.round(rssKb / 1024), status: code, stdout, stderr: useTime ? lines.slice(0, -1).join('\n') : stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Synthetic Codex rollouts

interface Template {
  readonly meta: Record<string, unknown>;
  /** The lines of the rollout's first turn after `session_meta` (context, developer messages…). */
  readonly head: Record<string, unknown>[];
  /** The lines of one later turn (settings, task_started … task_complete). */
  readonly turn: Record<string, unknown>[];
}

let template: Template | null = null;

/**
 * The fixture `test/fixtures/codex/rollout-plain-turns.jsonl` (two turns that Codex 0.169
 * wrote through the same mock): its `session_meta`, its first turn and its second turn, which
 * is repeated to make a rollout of any length.
 */
function loadTemplate(): Template {
  if (template) return template;
  const lines = readFileSync('test/fixtures/codex/rollout-plain-turns.jsonl', 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string; payload: Record<string, unknown> });
  const starts = lines.flatMap((l, i) => (l.type === 'event_msg' && l.payload.type === 'task_started' ? [i] : []));
  const second = starts[1]!;
  // The second turn begins with the settings event just before its task_started.
  const from = lines[second - 1]?.payload.type === 'thread_settings_applied' ? second - 1 : second;
  template = { meta: lines[0]!, head: lines.slice(1, from), turn: lines.slice(from) };
  return template;
}

/** A UUID v7 (what Codex uses for thread and turn ids) for time `ms`, random otherwise. */
export function uuidv7(ms = Date.now()): string {
  const hex = ms.toString(16).padStart(12, '0');
  const rand = Array.from({ length: 20 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${rand.slice(0, 3)}-${((parseInt(rand[3]!, 16) & 3) | 8).toString(16)}${rand.slice(4, 7)}-${rand.slice(7, 19)}`;
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * Write one Codex rollout of about `records` lines under `<codexHome>/sessions/…`: the
 * template's meta and first turn, then its second turn repeated with fresh turn ids. Paths in
 * the template become `work` and `codexHome`. `small` drops the long base instructions and the
 * developer context (for listings of many rollouts).
 */
export function writeCodexRollout(codexHome: string, work: string, records: number, options: { small?: boolean; at?: Date } = {}): { id: string; path: string; records: number; bytes: number } {
  const t = loadTemplate();
  const at = options.at ?? new Date();
  const id = uuidv7(at.getTime());
  const dir = join(codexHome, 'sessions', String(at.getFullYear()), pad(at.getMonth() + 1), pad(at.getDate()));
  mkdirSync(dir, { recursive: true });
  const stamp = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}-${pad(at.getMinutes())}-${pad(at.getSeconds())}`;
  const path = join(dir, `rollout-${stamp}-${id}.jsonl`);
  const oldId = (t.meta.payload as { id: string }).id;
  const swap = (s: string): string => s.split(oldId).join(id).split('/workspace').join(work).split('/codex-home').join(codexHome);
  const fd = openSync(path, 'w', 0o600);
  let ordinal = 0;
  let bytes = 0;
  let buffer = '';
  const ts = at.toISOString();
  const put = (line: Record<string, unknown>, text?: string): void => {
    const s = text ?? JSON.stringify({ ...line, timestamp: ts, ordinal });
    buffer += `${s.replace(/"ordinal":\d+/, `"ordinal":${ordinal}`)}\n`;
    ordinal++;
    if (buffer.length > 1 << 20) {
      bytes += writeSync(fd, buffer);
      buffer = '';
    }
  };
  const meta = JSON.parse(swap(JSON.stringify(t.meta))) as { payload: Record<string, unknown> };
  meta.payload.timestamp = ts;
  if (options.small) meta.payload.base_instructions = { text: 'You are a coding agent.' };
  put(meta as Record<string, unknown>);
  const head = swap(JSON.stringify(t.head));
  for (const line of JSON.parse(head) as Record<string, unknown>[]) {
    const p = line.payload as { type?: string; role?: string };
    if (options.small && (line.type === 'world_state' || p.role === 'developer')) continue;
    put(line);
  }
  // The repeated turn: its turn id (and the ids derived from it) replaced each time.
  const turnText = swap(JSON.stringify(t.turn));
  const turnId = ((t.turn.find((l) => (l.payload as { type?: string }).type === 'task_started')?.payload as { turn_attribution?: { turn_id?: string } })?.turn_attribution?.turn_id) ?? '';
  let n = 0;
  while (ordinal < records) {
    n++;
    const fresh = uuidv7(at.getTime() + n);
    const text = turnId ? turnText.split(turnId).join(fresh) : turnText;
    for (const line of JSON.parse(text.replace(/What did I just say\?/g, `Question number ${n}: what did I just say?`)) as Record<string, unknown>[]) put(line);
  }
  bytes += writeSync(fd, buffer);
  closeSync(fd);
  return { id, path, records: ordinal, bytes };
}

// ---------------------------------------------------------------------------------------------
// app-server over stdio

/**
 * Start `codex app-server` (JSON-RPC over stdio), `initialize`, then `thread/list` with
 * `params`; resolves with the time from the request to its response (ms), the whole process's
 * time from spawn to the response, and the response.
 */
export async function appServerList(codex: CodexBinary, env: Record<string, string | undefined>, params: Record<string, unknown>, timeoutMs = 600_000): Promise<{ listMs: number; totalMs: number; result: { data?: unknown[]; nextCursor?: string | null } }> {
  const t0 = performance.now();
  const child = spawn(codex.path, ['app-server'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const pending = new Map<number, (msg: { result?: unknown; error?: unknown }) => void>();
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    buffered += s;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as { id?: number; result?: unknown; error?: unknown };
      if (typeof msg.id === 'number' && pending.has(msg.id) && ('result' in msg || 'error' in msg)) {
        pending.get(msg.id)!(msg);
        pending.delete(msg.id);
      }
    }
  });
  let next = 0;
  const request = (method: string, p: unknown): Promise<{ result?: unknown; error?: unknown }> =>
    new Promise((resolveRequest, reject) => {
      const id = ++next;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer in ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`)), timeoutMs);
      pending.set(id, (msg) => {
        clearTimeout(timer);
        resolveRequest(msg);
      });
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params: p })}\n`);
    });
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  try {
    const init = await request('initialize', { clientInfo: { name: 'colloquy-bench', version: '0.0.0' } });
    if (init.error) throw new Error(`initialize: ${JSON.stringify(init.error)}`);
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'initialized' })}\n`);
    const t1 = performance.now();
    const list = await request('thread/list', params);
    const t2 = performance.now();
    if (list.error) throw new Error(`thread/list: ${JSON.stringify(list.error)}`);
    return { listMs: t2 - t1, totalMs: t2 - t0, result: list.result as { data?: unknown[]; nextCursor?: string | null } };
  } finally {
    child.stdin.end();
    child.kill('SIGTERM');
    await exited;
  }
}
