/**
 * The `colloquy` command line: the root command, and every command registered on it by its
 * `registerX` (one module each in `commands/`).
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version.js';
import { registerChat } from './commands/chat.js';
import { registerExec } from './commands/exec.js';
import { registerHistory } from './commands/history.js';
import { registerImport } from './commands/import.js';
import { registerInspect } from './commands/inspect.js';
import { registerServe } from './commands/serve.js';
import { registerSessions } from './commands/sessions.js';
import type { CommandIO, SetExit } from './shared/io.js';
import { UsageError } from './shared/usage.js';

/** Build the program. `io` is where commands read and write; `setExit` receives the exit code. */
export function program(io: CommandIO, setExit: SetExit): Command {
  const root = new Command('colloquy')
    .description('Run AI-agent conversations as durable, inspectable actors.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  registerExec(root, io, setExit);
  registerImport(root, io, setExit);
  registerChat(root, io, setExit);
  registerSessions(root, io, setExit);
  registerHistory(root, io, setExit);
  // After exec: it adds the inspection options to exec.
  registerInspect(root, io, setExit);
  registerServe(root, io, setExit);
  return root;
}

/** Run the command line; resolves with the exit code. */
export async function main(argv: readonly string[], io: CommandIO): Promise<number> {
  let code = 0;
  const root = program(io, (c) => {
    code = c;
  });
  try {
    await root.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return code;
}
