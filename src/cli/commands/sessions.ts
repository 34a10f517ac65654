/**
 * `colloquy sessions list|show|fork|archive|unarchive|rm|export|import|reindex`: manage the
 * stored conversations. Each subcommand's work is in `src/cli/sessions/`, loaded when it runs,
 * so registering them costs `colloquy exec` nothing.
 *
 * Exit codes: 0 ok; 1 failure (an unknown conversation, a store error); 2 usage.
 */
import { Option, type Command } from 'commander';
import type { ExportOptions, ListOptions, ReindexOptions, ShowOptions } from '../sessions/read.js';
import type { ForkCommandOptions, ManageOptions } from '../sessions/manage.js';
import type { CommandIO, SetExit } from '../shared/io.js';
import { positiveInt, withHome } from '../shared/options.js';
import { importCodexCommand } from './import.js';

const ID = ['<id>', 'the conversation id (a ULID)'] as const;

/** Register `colloquy sessions …` on `program`. */
export function registerSessions(program: Command, io: CommandIO, setExit: SetExit): Command {
  const sessions = program
    .command('sessions')
    .description('list, show, fork, archive, delete, export, import and reindex stored conversations');

  withHome(sessions.command('list'))
    .description('list conversations, newest first, one page at a time (the next page is at the cursor printed last)')
    .option('-n, --limit <n>', 'conversations per page (1-1000, default 20)', positiveInt('--limit', 1000))
    .option('--cursor <cursor>', 'start after this cursor (printed by the previous page)')
    .addOption(new Option('--sort <key>', 'order by creation or last update time').choices(['created', 'updated']).default('updated'))
    .option('--archived', 'list archived conversations instead')
    .option('--name <text>', 'only conversations whose name contains this text (case-insensitive)')
    .option('--json', 'print { items, nextCursor } as one JSON object')
    .action(async (opts: ListOptions) => {
      const { runList } = await import('../sessions/read.js');
      setExit(await runList(opts, io));
    });

  withHome(sessions.command('show'))
    .description('show a conversation: its turns, items and statuses, and what waits for approval or to run')
    .argument(...ID)
    .option('--json', "print the conversation as one JSON object (runtime.read's record plus archived/createdAt/updatedAt/rolledBack)")
    .action(async (id: string, opts: ShowOptions) => {
      const { runShow } = await import('../sessions/read.js');
      setExit(await runShow(id, opts, io));
    });

  withHome(sessions.command('fork'))
    .description('fork a conversation into a new one (the source is untouched); prints the new id')
    .argument(...ID)
    .option('--before-turn <n>', 'keep only the user turns before the n-th (1-based)', positiveInt('--before-turn'))
    .option('--name <name>', 'name the fork')
    .option('--json', 'print { id, forkedFrom, name } as one JSON object')
    .action(async (id: string, opts: ForkCommandOptions) => {
      const { runFork } = await import('../sessions/manage.js');
      setExit(await runFork(id, opts, io));
    });

  for (const archive of [true, false]) {
    withHome(sessions.command(archive ? 'archive' : 'unarchive'))
      .description(archive ? 'archive a conversation (it leaves the default listing; it can still be resumed)' : 'bring an archived conversation back')
      .argument(...ID)
      .action(async (id: string, opts: ManageOptions) => {
        const { runArchive } = await import('../sessions/manage.js');
        setExit(await runArchive(id, archive, opts, io));
      });
  }

  withHome(sessions.command('rm'))
    .description('delete a conversation for good (asks first on a terminal; otherwise needs --yes)')
    .argument(...ID)
    .option('-y, --yes', 'delete without asking')
    .action(async (id: string, opts: ManageOptions) => {
      const { runRemove } = await import('../sessions/manage.js');
      setExit(await runRemove(id, opts, io));
    });

  withHome(sessions.command('export'))
    .description('write a conversation out: its log records as JSONL (default) or a Markdown transcript')
    .argument(...ID)
    .addOption(new Option('--format <format>', 'jsonl (the log records, in order) or md').choices(['jsonl', 'md']).default('jsonl'))
    .option('-o, --output <file>', 'write to this file (mode 0600) instead of stdout')
    .action(async (id: string, opts: ExportOptions) => {
      const { runExport } = await import('../sessions/read.js');
      setExit(await runExport(id, opts, io));
    });

  const importCommand = sessions.command('import').description('import conversations from another tool (import codex <file|dir>)');
  importCodexCommand(
    importCommand,
    io,
    setExit,
    'import Codex rollouts (a rollout-*.jsonl file, or every one under a directory such as ~/.codex); same as `colloquy import codex`',
  );

  withHome(sessions.command('reindex'))
    .description('rebuild the listing index from the logs (after logs were copied in or removed by hand)')
    .option('--json', 'print { reindexed, home, active, archived } as one JSON object')
    .action(async (opts: ReindexOptions) => {
      const { runReindex } = await import('../sessions/read.js');
      setExit(await runReindex(opts, io));
    });

  return sessions;
}
