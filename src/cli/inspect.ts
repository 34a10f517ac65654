/**
 * `colloquy inspect` and the `--inspect` options of `colloquy exec` (registered here so the
 * command line's main module only calls `registerInspect`). The work is in `inspect-run.ts`,
 * loaded only when an inspection option is given.
 */
import type { Command } from 'commander';
import { UsageError } from './config.js';
import type { ExecIO } from './exec.js';

/** The inspection options as parsed from the command line. */
export interface InspectFlags {
  readonly inspect?: boolean;
  readonly inspectContent?: boolean;
  readonly inspectConversation?: readonly string[];
  readonly inspectPort?: string;
  readonly inspectUrl?: string;
}

/** Whether any inspection option is given. */
export function wantsInspection(flags: InspectFlags): boolean {
  return Boolean(flags.inspect || flags.inspectUrl || flags.inspectContent || (flags.inspectConversation && flags.inspectConversation.length > 0));
}

/**
 * Run code of the lazily loaded bundle: its `UsageError` is another class than this bundle's,
 * so it is recognised by its `exitCode` and thrown again as ours (exit code 2).
 */
export async function lazily<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof UsageError) && (err as { exitCode?: unknown } | null)?.exitCode === 2) throw new UsageError((err as Error).message);
    throw err;
  }
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Add the inspection options to a command (`exec`, `exec resume`, `serve`). */
export function inspectOptions(command: Command): Command {
  return command
    .option('--inspect', 'show the actors in the Stately inspector: starts a relay on 127.0.0.1 and prints its address')
    .option('--inspect-port <port>', 'port of that relay (default: any free port)')
    .option('--inspect-url <ws-url>', 'stream to a running relay instead (`colloquy inspect`), e.g. ws://127.0.0.1:8080')
    .option('--inspect-content', 'show message text, commands and their output, instructions (hidden by default)')
    .option('--inspect-conversation <id>', 'inspect only this conversation (repeatable)', collect);
}

/**
 * Register `colloquy inspect`, and the inspection options on `exec` (and `exec resume`):
 * when given, the relay is started before the turn runs and closed after it.
 */
export function registerInspect(program: Command, io: ExecIO, setExit: (code: number) => void): void {
  program
    .command('inspect')
    .description('run an inspection relay on 127.0.0.1 for the Stately inspector; processes stream into it with --inspect-url')
    .option('-p, --port <port>', 'port to listen on', '8080')
    .option('--json', 'print the addresses as one JSON object')
    .exitOverride()
    .action(async (opts: { port?: string; json?: boolean }) => {
      setExit(await lazily(async () => (await import('./inspect-run.js')).runInspect(opts, io)));
    });

  const exec = program.commands.find((c) => c.name() === 'exec');
  if (!exec) return;
  inspectOptions(exec);
  const resume = exec.commands.find((c) => c.name() === 'resume');
  if (resume) inspectOptions(resume);
  let running: { close(): Promise<void> } | null = null;
  exec.hook('preAction', async (hooked, action) => {
    const flags = { ...hooked.opts(), ...action.opts() } as InspectFlags;
    // Nothing is loaded unless an inspection option is given.
    if (!wantsInspection(flags)) return;
    const inspection = await lazily(async () => (await import('./inspect-run.js')).startInspection(flags, io));
    running = inspection;
    // runExec passes it to createRuntime({ inspect }).
    action.setOptionValue('inspector', inspection.observer);
  });
  exec.hook('postAction', async () => {
    await running?.close();
    running = null;
  });
}
