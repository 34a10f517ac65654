/**
 * Running a shell command for an agent: `/bin/sh -c` in the turn's working directory,
 * stdout and stderr interleaved, cancelled by the turn's signal or a timeout, output kept
 * to a byte limit with the middle elided (as Codex truncates exec output).
 */

export interface CommandOptions {
  readonly cwd: string;
  readonly signal: AbortSignal;
  /** Kill the command after this long (ms). Default 30,000. */
  readonly timeoutMs?: number;
  /** Keep at most this many bytes of output (bytes). Default 64 KiB. */
  readonly maxOutputBytes?: number;
}

export interface CommandResult {
  readonly output: string;
  /** The exit code; 124 after a timeout, 130 when aborted, 127 when it could not start. */
  readonly exitCode: number;
}

/** Keep the first and last halves of `text` when it is longer than `max` bytes. */
export function elideMiddle(text: string, max: number): string {
  const bytes = Buffer.byteLength(text);
  if (bytes <= max) return text;
  const buf = Buffer.from(text);
  const half = Math.floor(max / 2);
  const head = buf.subarray(0, half).toString('utf8');
  const tail = buf.subarray(buf.length - half).toString('utf8');
  return `${head}\n… ${bytes - 2 * half} bytes elided …\n${tail}`;
}

/** Run `command` with `/bin/sh -c`. Never rejects: failures are reported as exit codes and output. */
export function runCommand(command: string, options: CommandOptions): Promise<CommandResult> {
  const max = options.maxOutputBytes ?? 64 * 1024;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    // Loaded on first use: most turns run no command, and a CLI process should not pay for it.
    const { spawn } = process.getBuiltinModule('node:child_process');
    const child = spawn('/bin/sh', ['-c', command], { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      // Keep a little over twice the limit so both ends survive elision.
      if (size < max * 2 + 1024) chunks.push(chunk);
      size += chunk.length;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const kill = (): void => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 500).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs ?? 30_000);
    timer.unref();
    options.signal.addEventListener('abort', kill, { once: true });
    const finish = (exitCode: number, extra = ''): void => {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', kill);
      const text = Buffer.concat(chunks).toString('utf8') + extra;
      resolve({ output: elideMiddle(text, max), exitCode });
    };
    child.on('error', (err) => finish(127, `${err.message}\n`));
    child.on('close', (code, signal) => {
      if (timedOut) return finish(124, `\n(timed out after ${options.timeoutMs ?? 30_000} ms)\n`);
      if (options.signal.aborted) return finish(130);
      finish(code ?? (signal ? 128 : 1));
    });
  });
}
