/**
 * `colloquy serve`: a runtime over a home directory, its control server (HTTP/JSON, WebSocket,
 * the browser console) and optionally an inspection relay, until interrupted. Loaded only by
 * the `serve` command (never by `exec`).
 */
import { localAgent } from '../agents/local.js';
import { loadScript } from '../agents/scripted.js';
import type { Inspection } from '../inspect/index.js';
import { createRuntime, type Runtime } from '../runtime/runtime.js';
import { serve } from '../server/index.js';
import type { Durability } from '../store/store.js';
import { interrupted, parsePort, startInspection } from './inspect-run.js';
import { wantsInspection, type InspectFlags } from './shared/inspect-flags.js';
import type { CommandIO } from './shared/io.js';
import { homeOf, type HomeOption } from './shared/options.js';
import { UsageError } from './shared/usage.js';

/** Options of `colloquy serve` (as parsed from the command line). */
export interface ServeCommandOptions extends InspectFlags, HomeOption {
  readonly port?: string;
  readonly host?: string;
  readonly agentScript?: string;
  readonly durability?: string;
  /** ms, a whole number ≥ 0 (0: never passivate). */
  readonly passivateAfter?: string;
  readonly json?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Run `colloquy serve` until Ctrl-C or SIGTERM (or `stop` resolves), then close the server
 * and shut the runtime down (every record durable). Resolves with the exit code.
 * @throws {UsageError} for a bad port, durability or agent script.
 */
export async function runServe(options: ServeCommandOptions, io: CommandIO, stop: Promise<unknown> = interrupted(io)): Promise<number> {
  const port = parsePort(options.port, '--port', 0);
  const durability = options.durability;
  if (durability !== undefined && durability !== 'sync' && durability !== 'batched' && durability !== 'none') {
    throw new UsageError(`invalid durability ${JSON.stringify(durability)}: expected sync, batched or none`);
  }
  const passivateAfterMs = options.passivateAfter === undefined ? undefined : Number(options.passivateAfter);
  if (passivateAfterMs !== undefined && !(Number.isInteger(passivateAfterMs) && passivateAfterMs >= 0)) {
    throw new UsageError(`invalid --passivate-after ${JSON.stringify(options.passivateAfter)}: expected a whole number of ms ≥ 0 (0: never)`);
  }
  const scriptPath = options.agentScript ?? process.env.COLLOQUY_AGENT_SCRIPT;
  const agent = scriptPath ? localAgent({ script: await loadScript(scriptPath) }) : localAgent();
  const home = homeOf(options);
  const inspection: Inspection | null = wantsInspection(options) ? await startInspection(options, io) : null;
  let runtime: Runtime | null = null;
  try {
    runtime = createRuntime({
      home,
      agent,
      ...(durability ? { durability: durability as Durability } : {}),
      ...(passivateAfterMs !== undefined ? { passivateAfterMs } : {}),
      ...(inspection ? { inspect: inspection.observer } : {}),
    });
    const host = options.host ?? '127.0.0.1';
    const server = await serve(runtime, { port, host });
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ url: server.url, token: server.token, consoleUrl: server.consoleUrl, wsUrl: server.wsUrl, home })}\n`);
    } else {
      io.stdout.write(
        `Colloquy control server for ${home}\n` +
          `  url:      ${server.url}\n` +
          `  token:    ${server.token}\n` +
          `  console:  ${server.consoleUrl}\n` +
          `  ws:       ${server.wsUrl}\n` +
          `Send the token as "Authorization: Bearer <token>". Ctrl-C stops the server.\n`,
      );
    }
    if (!LOOPBACK.has(host)) io.stderr.write(`warning: listening on ${host}: the control channel is reachable from the network, protected by the token only (no TLS)\n`);
    await stop;
    io.stderr.write('stopping: closing the server and every conversation…\n');
    await server.close();
    return 0;
  } finally {
    await runtime?.shutdown();
    await inspection?.close();
  }
}
