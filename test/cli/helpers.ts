/**
 * Helpers for the CLI tests: run the built executable (`dist/colloquy.cjs`) as a child
 * process with its own `COLLOQUY_HOME`, and look at what it left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built `colloquy` executable (run `npm run build` first). */
export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/colloquy.cjs');

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the CLI tests`);

/** A conversation id: a ULID (Crockford base32, 26 characters). */
export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
/** A ULID somewhere in a text. */
export const ULID_IN_TEXT = /\b[0-9A-HJKMNP-TV-Z]{26}\b/;

const made: string[] = [];

/** A fresh temporary directory, removed by `removeTempDirs`. */
export async function tempDir(prefix = 'colloquy-cli-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Remove every directory `tempDir` made (call it in `afterEach`). */
export async function removeTempDirs(): Promise<void> {
  const dirs = made.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

/** The environment of a child: this process's, minus anything that would choose an agent, with `COLLOQUY_HOME`. */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== 'COLLOQUY_AGENT_SCRIPT' && key !== 'NODE_OPTIONS') env[key] = value;
  }
  return { ...env, COLLOQUY_HOME: home, ...extra };
}

export interface CliOptions {
  /** `COLLOQUY_HOME` of the child. */
  readonly home: string;
  /** Written to stdin, which is then closed. Default: nothing (an empty, closed stdin). */
  readonly input?: string;
  /** Working directory of the child. Default: the system temp directory. */
  readonly cwd?: string;
  readonly env?: Record<string, string>;
  /** Kill the child (SIGKILL) after this long; the result then has `timedOut`. Default 30 s. */
  readonly timeoutMs?: number;
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** A running CLI process. */
export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves when stdout contains `text` (rejects if the process ends first). */
  waitForStdout(text: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has ended and its output is closed. */
  readonly done: Promise<CliResult>;
}

/** Start `node dist/colloquy.cjs ...args`. */
export function startCli(args: readonly string[], options: CliOptions): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: cliEnv(options.home, options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  child.stdin.on('error', () => {}); // the child may exit before reading stdin
  child.stdin.end(options.input ?? '');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 30_000);
  const done = new Promise<CliResult>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: out, stderr: err, timedOut });
    });
  });
  const waitForStdout = (text: string, timeoutMs = 15_000): Promise<void> =>
    new Promise((resolvePromise, reject) => {
      const check = (): boolean => {
        if (!out.includes(text)) return false;
        cleanup();
        resolvePromise();
        return true;
      };
      const onClose = (): void => {
        if (check()) return;
        cleanup();
        reject(new Error(`the CLI ended before printing ${JSON.stringify(text)}; stdout: ${out}; stderr: ${err}`));
      };
      const onTimeout = (): void => {
        cleanup();
        reject(new Error(`the CLI did not print ${JSON.stringify(text)} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`));
      };
      const limit = setTimeout(onTimeout, timeoutMs);
      const onData = (): void => void check();
      const cleanup = (): void => {
        clearTimeout(limit);
        child.stdout?.off('data', onData);
        child.off('close', onClose);
      };
      child.stdout?.on('data', onData);
      child.once('close', onClose);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, waitForStdout, done };
}

/** Run `node dist/colloquy.cjs ...args` to the end. */
export function runCli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).done;
}

/** The lines of a `--json` stdout, each parsed (throws on a line that is not JSON). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  const lines = stdout.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line, i) => {
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      return value as Record<string, unknown>;
    } catch (err) {
      throw new Error(`stdout line ${i + 1} is not a JSON object: ${JSON.stringify(line)} (${String(err)})`);
    }
  });
}

/** The `thread_id` of the first line of a `--json` stdout. */
export function threadIdOf(stdout: string): string {
  const first = jsonLines(stdout)[0];
  if (first?.type !== 'thread.started' || typeof first.thread_id !== 'string') {
    throw new Error(`stdout does not start with thread.started: ${stdout}`);
  }
  return first.thread_id;
}

/** Every file under `dir`, as paths relative to it (directories are not listed). */
export async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** The log files (`sessions/YYYY/MM/DD/<id>.jsonl`) under a home, relative to it. */
export async function logFiles(home: string): Promise<string[]> {
  const sessions = join(home, 'sessions');
  if (!existsSync(sessions)) return [];
  return (await filesUnder(sessions)).filter((f) => f.endsWith('.jsonl')).map((f) => join('sessions', f));
}

/** The one log of conversation `id` under `home` (found by searching, not by computing its path). */
export async function findLog(home: string, id: string): Promise<string> {
  const matches = (await logFiles(home)).filter((f) => f.endsWith(`/${id}.jsonl`));
  if (matches.length !== 1) throw new Error(`expected one log of ${id} under ${home}, found ${JSON.stringify(matches)}`);
  return join(home, matches[0] as string);
}

/** The records of a log file, parsed. */
export async function logRecords(path: string): Promise<{ seq: number; type: string; payload: Record<string, unknown> }[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { seq: number; type: string; payload: Record<string, unknown> });
}

/** Write an agent script (the local agent's scripted mode) and return its path. */
export async function writeScript(dir: string, script: unknown, name = 'script.json'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(script), 'utf8');
  return path;
}

/** Resolves once `predicate` holds (polled), or rejects after `timeoutMs`. */
export async function waitUntil(predicate: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A script whose first turn waits 5 s (interruptible) and then answers; later turns answer at once. */
export const SLOW_SCRIPT = {
  turns: [
    { steps: [{ type: 'delay', ms: 5000 }, { type: 'message', text: 'too late' }] },
    { steps: [{ type: 'message', text: 'second turn' }] },
  ],
} as const;
