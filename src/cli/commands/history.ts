/**
 * `colloquy history [search TEXT]`: the messages sent in every conversation, newest first.
 * The reading is in `src/cli/history.ts`, loaded when the command runs.
 */
import type { Command } from 'commander';
import type { HistoryOptions } from '../history.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { positiveInt, withHome } from '../shared/options.js';

function historyOptions(command: Command): Command {
  return withHome(command)
    .option('-n, --limit <n>', 'at most this many messages (default 50)', positiveInt('--limit'))
    .option('--session <id>', 'only messages of this conversation')
    .option('--json', 'print { entries: [{ id, sessionId, ts, text }] } as one JSON object');
}

/** Register `colloquy history` and `colloquy history search TEXT` on `program`. */
export function registerHistory(program: Command, io: CommandIO, setExit: SetExit): Command {
  const history = historyOptions(program.command('history'))
    .description('list the messages sent in every conversation, newest first (history search TEXT finds some)')
    .action(async (opts: HistoryOptions) => {
      const { runHistory } = await import('../history.js');
      setExit(await runHistory(opts, io));
    });
  historyOptions(history.command('search'))
    .description('find messages containing TEXT (case-insensitive), newest first')
    .argument('<text>', 'the text to look for')
    .action(async (text: string, opts: HistoryOptions, command: Command) => {
      const { runHistorySearch } = await import('../history.js');
      setExit(await runHistorySearch(text, { ...command.parent?.opts(), ...opts } as HistoryOptions, io));
    });
  return history;
}
