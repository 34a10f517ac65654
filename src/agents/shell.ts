/**
 * Running a shell command for an agent: `/bin/sh -c` in the turn's working directory (inside
 * the conversation's sandbox, see `sandbox.ts`), stdout and stderr interleaved, cancelled by
 * the turn's signal or a timeout, output kept to a byte limit with the middle elided (as Codex
 * truncates exec output).
 */
import { resolve } from 'node:path';
import type { ThreadItem } from '../protocol/items.js';
import { bwrapArguments, bwrapPath, SandboxError, sandboxPolicy, sandboxUnavailable, type SandboxHost, type SandboxSettings } from './sandbox.js';

/** Limits of the shell commands an agent runs (`!command`s, scripted `command` steps). */
export interface CommandLimits {
  /** Kill a command after this long (ms). Default 30,000. */
  readonly commandTimeoutMs?: number;
  /** Keep at most this much of a command's output (bytes). Default 64 KiB. */
  readonly maxOutputBytes?: number;
}

export interface CommandOptions {
  readonly cwd: string;
  readonly signal: AbortSignal;
  /** Kill the command after this long (ms). Default 30,000. */
  readonly timeoutMs?: number;
  /** Keep at most this many bytes of output (bytes). Default 64 KiB. */
  readonly maxOutputBytes?: number;
  /** Called with each piece of output as it arrives (stdout and stderr interleaved). */
  readonly onOutput?: (chunk: string) => void;
  /** The conversation's sandbox settings (its config); none, or no mode: no sandbox. */
  readonly sandbox?: SandboxSettings;
  /** Where bubblewrap is (for tests). */
  readonly host?: SandboxHost;
}

export interface CommandResult {
  readonly output: string;
  /**
   * The exit code; 124 after a timeout, 130 when aborted, 127 when it could not start, 126
   * when its sandbox could not be applied (see `error`).
   */
  readonly exitCode: number;
  /** Set when the command did not run because of its sandbox; `output` is its message. */
  readonly error?: SandboxError;
}

/** A `command_execution` item. */
type CommandItem = ThreadItem & { readonly type: 'command_execution' };

/** The final form of a command's item: completed on exit code 0, else failed (without an exit code when it never ran). */
export function finishedCommand(item: CommandItem, result: CommandResult): CommandItem {
  const { exit_code: _previous, ...rest } = item;
  return {
    ...rest,
    aggregated_output: result.output,
    ...(result.error ? {} : { exit_code: result.exitCode }),
    status: result.exitCode === 0 && !result.error ? 'completed' : 'failed',
  };
}

/** Keep the first and last halves of `text` when it is longer than `max` bytes. */
export function elideMiddle(text: string, max: number): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= max) return text;
  const buf = Buffer.from(text);
  const half = Math.floor(max / 2);
  return joinEnds(buf.subarray(0, half), buf.subarray(buf.length - half), bytes - 2 * half);
}

function joinEnds(head: Buffer, tail: Buffer, elided: number): string {
  return `${head.toString('utf8')}\n… ${elided} bytes elided …\n${tail.toString('utf8')}`;
}

/**
 * Output kept within a byte budget while it streams: the first half of the budget, and a
 * rolling last half, so memory stays bounded however much a command prints.
 */
class BoundedOutput {
  readonly #half: number;
  readonly #max: number;
  #head: Buffer[] = [];
  #headSize = 0;
  #tail: Buffer[] = [];
  #tailSize = 0;
  #total = 0;

  constructor(max: number) {
    this.#max = max;
    this.#half = Math.floor(max / 2);
  }

  push(chunk: Buffer): void {
    this.#total += chunk.length;
    if (this.#headSize < this.#half) {
      const take = Math.min(chunk.length, this.#half - this.#headSize);
      this.#head.push(chunk.subarray(0, take));
      this.#headSize += take;
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.#tail.push(chunk);
    this.#tailSize += chunk.length;
    // Drop whole chunks from the front while the rest still covers the last half (plus what the whole needs).
    while (this.#tail.length > 1 && this.#tailSize - (this.#tail[0]?.length ?? 0) >= this.#max - this.#half) {
      this.#tailSize -= this.#tail.shift()?.length ?? 0;
    }
  }

  text(extra = ''): string {
    const head = Buffer.concat(this.#head);
    const tail = Buffer.concat(this.#tail);
    if (this.#total <= this.#max) return `${Buffer.concat([head, tail]).toString('utf8')}${extra}`;
    const last = tail.subarray(Math.max(0, tail.length - this.#half));
    return `${joinEnds(head, last, this.#total - head.length - last.length)}${extra}`;
  }
}

/**
 * Run `command` with `/bin/sh -c`, inside bubblewrap when the sandbox settings ask for
 * `read-only` or `workspace-write`. Never rejects: failures are reported as exit codes and
 * output; a command whose sandbox cannot be applied does not run (exit code 126, `error` set).
 */
export async function runCommand(command: string, options: CommandOptions): Promise<CommandResult> {
  let policy: ReturnType<typeof sandboxPolicy> = null;
  try {
    policy = options.sandbox ? sandboxPolicy(options.sandbox) : null;
    const problem = policy ? await sandboxUnavailable(policy, options.host) : null;
    if (problem) throw problem;
  } catch (err) {
    if (!(err instanceof SandboxError)) throw err;
    return { output: `${err.message}\n`, exitCode: 126, error: err };
  }
  if (options.signal.aborted) return { output: '', exitCode: 130 };
  if (!policy) return spawnCommand('/bin/sh', ['-c', command], options.cwd, options);
  // bwrap changes directory itself (and says so when it cannot).
  const args = [...bwrapArguments(policy, resolve(options.cwd)), '/bin/sh', '-c', command];
  return spawnCommand(bwrapPath(options.host), args, undefined, options);
}

function spawnCommand(file: string, args: readonly string[], cwd: string | undefined, options: CommandOptions): Promise<CommandResult> {
  const max = options.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    const output = new BoundedOutput(max);
    let timedOut = false;
    // Loaded on first use: most turns run no command, and a CLI process should not pay for it.
    const { spawn } = process.getBuiltinModule('node:child_process');
    // Its own process group, so that stopping it stops what the shell started too.
    const child = spawn(file, args, { ...(cwd !== undefined ? { cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const onOutput = options.onOutput;
    const keeper = (): ((chunk: Buffer) => void) => {
      if (!onOutput) return (chunk) => output.push(chunk);
      // One decoder per stream: a character split across chunks is reported whole.
      const decoder = new (process.getBuiltinModule('node:string_decoder').StringDecoder)('utf8');
      return (chunk) => {
        output.push(chunk);
        const text = decoder.write(chunk);
        if (text !== '') onOutput(text);
      };
    };
    child.stdout.on('data', keeper());
    child.stderr.on('data', keeper());
    const signalGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    let killed = false;
    const kill = (): void => {
      if (killed) return;
      killed = true;
      signalGroup('SIGTERM');
      setTimeout(() => signalGroup('SIGKILL'), 500).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs ?? 30_000);
    timer.unref();
    options.signal.addEventListener('abort', kill, { once: true });
    let finished = false;
    const finish = (exitCode: number, extra = ''): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      options.signal.removeEventListener('abort', kill);
      resolve({ output: output.text(extra), exitCode });
    };
    child.on('error', (err) => finish(127, `${err.message}\n`));
    // Once stopped, do not wait for pipes a runaway grandchild may still hold open.
    child.on('exit', () => {
      if (killed) setTimeout(() => finish(options.signal.aborted ? 130 : 124), 100).unref();
    });
    child.on('close', (code, signal) => {
      if (timedOut) return finish(124, `\n(timed out after ${options.timeoutMs ?? 30_000} ms)\n`);
      if (options.signal.aborted) return finish(130);
      finish(code ?? (signal ? 128 : 1));
    });
  });
}
