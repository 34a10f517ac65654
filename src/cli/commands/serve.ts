/**
 * `colloquy serve`: the control server over a home directory. Its work is in `serve-run.ts`
 * and `src/server/`, loaded only when the command runs (a separate bundle in the built CLI),
 * so `colloquy exec` starts as fast as before.
 */
import type { Command } from 'commander';
import { inspectOptions } from '../shared/inspect-flags.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { HOME_HELP } from '../shared/options.js';
import { lazily } from '../shared/usage.js';

/** Register `colloquy serve` on `program`. */
export function registerServe(program: Command, io: CommandIO, setExit: SetExit): Command {
  return inspectOptions(
    program
      .command('serve')
      .description('serve conversations over HTTP/JSON and WebSocket, with a browser console (127.0.0.1, bearer token)')
      .option('-p, --port <port>', 'port to listen on (default: any free port)')
      .option('--host <address>', 'interface to listen on (default 127.0.0.1; anything else exposes it to the network)')
      .option('--home <dir>', HOME_HELP)
      .option('--agent-script <file>', "answer with the local agent's scripted mode, replaying this JSON script")
      .option('--durability <mode>', 'sync | batched | none (default sync)')
      .option('--passivate-after <ms>', 'stop a conversation idle this long, with nobody subscribed (it comes back from its log when used); 0 never (default 900000: 15 minutes)')
      .option('--json', 'print the addresses and the token as one JSON object'),
  )
    .exitOverride()
    .action(async (opts: Record<string, unknown>) => {
      setExit(await lazily(async () => (await import('../serve-run.js')).runServe(opts, io)));
    });
}
