/**
 * `colloquy inspect` and the `--inspect` options of `colloquy exec`. The work is in
 * `inspect-run.ts`, loaded only when an inspection option is given (a separate bundle in the
 * built CLI).
 */
import type { Command } from 'commander';
import { inspectOptions, wantsInspection, type InspectFlags } from '../shared/inspect-flags.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { lazily } from '../shared/usage.js';

/**
 * Register `colloquy inspect`, and the inspection options on `exec` (and `exec resume`; call
 * this after `registerExec`): when given, the relay is started before the turn runs and
 * closed after it.
 */
export function registerInspect(program: Command, io: CommandIO, setExit: SetExit): Command {
  const inspect = program
    .command('inspect')
    .description('run an inspection relay on 127.0.0.1 for the Stately inspector; processes stream into it with --inspect-url')
    .option('-p, --port <port>', 'port to listen on', '8080')
    .option('--json', 'print the addresses as one JSON object')
    .exitOverride()
    .action(async (opts: { port?: string; json?: boolean }) => {
      setExit(await lazily(async () => (await import('../inspect-run.js')).runInspect(opts, io)));
    });

  const exec = program.commands.find((c) => c.name() === 'exec');
  if (!exec) return inspect;
  inspectOptions(exec);
  const resume = exec.commands.find((c) => c.name() === 'resume');
  if (resume) inspectOptions(resume);
  let running: { close(): Promise<void> } | null = null;
  exec.hook('preAction', async (hooked, action) => {
    const flags = { ...hooked.opts(), ...action.opts() } as InspectFlags;
    // Nothing is loaded unless an inspection option is given.
    if (!wantsInspection(flags)) return;
    const inspection = await lazily(async () => (await import('../inspect-run.js')).startInspection(flags, io));
    running = inspection;
    // runExec passes it to createRuntime({ inspect }).
    action.setOptionValue('inspector', inspection.observer);
  });
  exec.hook('postAction', async () => {
    await running?.close();
    running = null;
  });
  return inspect;
}
