/**
 * `colloquy serve`: registered here so the command line's main module only calls
 * `registerServe`. The server code is in `serve-run.ts` and `src/server/`, loaded only when
 * the command runs (a separate bundle in the built CLI), so `colloquy exec` starts as fast
 * as before.
 */
import type { Command } from 'commander';
import type { ExecIO } from './exec.js';
import { inspectOptions, lazily, registerInspect } from './inspect.js';

/**
 * Register `colloquy serve`, and with it `colloquy inspect` and the `--inspect` options of
 * `exec` (see `inspect.ts`; call this after `exec` is defined). `setExit` receives the exit code.
 */
export function registerServe(program: Command, io: ExecIO, setExit: (code: number) => void): void {
  registerInspect(program, io, setExit);
  inspectOptions(
    program
      .command('serve')
      .description('serve conversations over HTTP/JSON and WebSocket, with a browser console (127.0.0.1, bearer token)')
      .option('-p, --port <port>', 'port to listen on (default: any free port)')
      .option('--host <address>', 'interface to listen on (default 127.0.0.1; anything else exposes it to the network)')
      .option('--home <dir>', 'where conversations are stored (default $COLLOQUY_HOME or ~/.colloquy)')
      .option('--agent-script <file>', "answer with the local agent's scripted mode, replaying this JSON script")
      .option('--durability <mode>', 'sync | batched | none (default sync)')
      .option('--json', 'print the addresses and the token as one JSON object'),
  )
    .exitOverride()
    .action(async (opts: Record<string, unknown>) => {
      setExit(await lazily(async () => (await import('./serve-run.js')).runServe(opts, io)));
    });
}
