/**
 * `colloquy import codex <file|dir>`: import Codex rollouts as new conversations (see
 * `src/cli/import.ts`, loaded when the command runs). `colloquy sessions import codex` is the
 * same command.
 */
import type { Command } from 'commander';
import type { ImportOptions } from '../import.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { withHome } from '../shared/options.js';

/** Add `codex <path>` to an `import` command (`colloquy import`, `colloquy sessions import`). */
export function importCodexCommand(parent: Command, io: CommandIO, setExit: SetExit, description: string): Command {
  return withHome(parent.command('codex'))
    .description(description)
    .argument('<path>', 'a Codex rollout file, or a directory to search for rollout-*.jsonl files')
    .option('--json', 'print the result as one JSON object')
    .option('--lenient', 'skip lines that are not JSON (and report them) instead of failing the file')
    .action(async (path: string, opts: ImportOptions) => {
      const { runImportCodex } = await import('../import.js');
      setExit(await runImportCodex(path, opts, io));
    });
}

/** Register `colloquy import codex <path>` on `program`. */
export function registerImport(program: Command, io: CommandIO, setExit: SetExit): Command {
  const importCommand = program
    .command('import')
    .description('import conversations from another tool (import codex <file|dir>)')
    .exitOverride();
  importCodexCommand(
    importCommand,
    io,
    setExit,
    'import Codex rollouts (a rollout-*.jsonl file, or every one under a directory such as ~/.codex) as new conversations',
  ).exitOverride();
  return importCommand;
}
