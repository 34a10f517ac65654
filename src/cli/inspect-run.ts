/**
 * What the inspection options do (loaded only when one is given, so `colloquy exec` without
 * them never loads `@statelyai/inspect` or `ws`):
 *
 * - `colloquy inspect`: a standalone relay on 127.0.0.1 that outlives the processes it shows
 *   (`colloquy exec --inspect-url ws://127.0.0.1:<port> …` streams into it);
 * - `--inspect` (exec, serve): a relay of the process's own, its address printed on stderr;
 * - `--inspect-url <ws-url>`: stream to a running relay instead.
 */
import { createInspection, type Inspection } from '../inspect/index.js';
import { startRelay } from '../inspect/relay.js';
import type { InspectFlags } from './shared/inspect-flags.js';
import type { CommandIO } from './shared/io.js';
import { UsageError } from './shared/usage.js';

/** Options of `colloquy inspect`. */
export interface InspectCommandOptions {
  readonly port?: string;
  readonly json?: boolean;
}

/** A port number from the command line (0–65535). @throws {UsageError} otherwise. */
export function parsePort(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected a port number (0–65535)`);
  return Number(value);
}

/**
 * Start the inspection the flags ask for and say where it is (on stderr: stdout may be a
 * `--json` stream).
 * @throws {UsageError} for a bad port or relay URL.
 */
export async function startInspection(flags: InspectFlags, io: Pick<CommandIO, 'stderr'>): Promise<Inspection> {
  const port = parsePort(flags.inspectPort, '--inspect-port', 0);
  let inspection: Inspection;
  try {
    inspection = await createInspection({
      ...(flags.inspectUrl !== undefined ? { connect: flags.inspectUrl } : { port }),
      content: flags.inspectContent === true,
      ...(flags.inspectConversation && flags.inspectConversation.length > 0 ? { conversations: flags.inspectConversation } : {}),
      onError: (error) => io.stderr.write(`inspect: ${error.message}\n`),
    });
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`--inspect-url: ${err.message}`);
    throw err;
  }
  const what = flags.inspectContent ? 'content shown' : 'content hidden';
  if (inspection.url !== null) {
    io.stderr.write(`inspect: open ${inspection.url} (Stately inspector; relay ${inspection.wsUrl}, 127.0.0.1 only, ${what})\n`);
  } else {
    io.stderr.write(`inspect: streaming to ${inspection.wsUrl} (${what})\n`);
  }
  return inspection;
}

/** Resolves on the first interrupt (Ctrl-C, SIGTERM); never without `onSignal`. */
export function interrupted(io: Pick<CommandIO, 'onSignal'>): Promise<string> {
  return new Promise((resolve) => {
    const remove = io.onSignal?.((signal) => {
      remove?.();
      resolve(signal);
    });
  });
}

/** Run `colloquy inspect`: a relay until interrupted. Resolves with the exit code. */
export async function runInspect(options: InspectCommandOptions, io: CommandIO): Promise<number> {
  const port = parsePort(options.port, '--port', 8080);
  const relay = await startRelay({ port });
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ url: relay.url, wsUrl: relay.wsUrl })}\n`);
  } else {
    io.stdout.write(
      `Inspection relay (Stately inspector protocol), 127.0.0.1 only.\n` +
        `  open:    ${relay.url}\n` +
        `  stream:  colloquy exec --inspect-url ${relay.wsUrl} "…"   (or createInspection({ connect: '${relay.wsUrl}' }))\n` +
        `Ctrl-C stops it.\n`,
    );
  }
  await interrupted(io);
  await relay.close();
  return 0;
}
