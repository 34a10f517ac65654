/**
 * `colloquy history [search TEXT]`: the global message history (`<home>/history.jsonl`, every
 * user message of every conversation), newest first. People get one line per message:
 * `time  conversation  text`; `--json` prints `{ entries: [{ id, sessionId, ts, text }] }`
 * (`ts` in Unix seconds, as Codex's history).
 *
 * Exit codes: 0 ok (also when nothing matched); 1 the history could not be read; 2 usage.
 */
import type { Command } from 'commander';
import { assertConversationId } from '../../protocol/ids.js';
import { MessageHistory, type HistoryEntry, type HistoryIssue } from '../../store/history.js';
import { homeOf, oneLine, positiveInt, withHome, writeJson, type CommandIO, type HomeOption, type SetExit } from './common.js';

/** Options of `history` and `history search`. */
export interface HistoryOptions extends HomeOption {
  readonly limit?: number;
  /** Only messages of this conversation. */
  readonly session?: string;
  readonly json?: boolean;
}

function print(io: CommandIO, entries: readonly HistoryEntry[], options: HistoryOptions, empty: string): void {
  if (options.json) {
    writeJson(io.stdout, { entries });
    return;
  }
  for (const e of entries) {
    const time = new Date(e.ts * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    io.stdout.write(`${time}  ${e.sessionId}  ${oneLine(e.text, 200)}\n`);
  }
  if (entries.length === 0) io.stderr.write(`${empty}\n`);
}

/**
 * Run a read of the history at `--home`; the history is closed afterwards. Lines that are not
 * entries are skipped by the read and reported here on stderr (a last line still being
 * written by another process is skipped silently: it is not damage).
 */
async function withHistory(
  options: HistoryOptions,
  io: CommandIO,
  fn: (history: MessageHistory) => Promise<readonly HistoryEntry[]>,
): Promise<readonly HistoryEntry[]> {
  const skipped: HistoryIssue[] = [];
  // Reading needs no lock and writes nothing: `persistence: 'none'` makes that certain.
  const history = new MessageHistory({
    home: homeOf(options),
    persistence: 'none',
    onIssue: (issue) => {
      if (issue.kind === 'bad_line') skipped.push(issue);
    },
  });
  try {
    return await fn(history);
  } finally {
    await history.close();
    for (const issue of skipped) io.stderr.write(`warning: ${issue.path}: the line at byte ${issue.offset} is not a history entry (${issue.detail})\n`);
  }
}

function queryOf(options: HistoryOptions): { limit: number; sessionId?: string } {
  return { limit: options.limit ?? 50, ...(options.session !== undefined ? { sessionId: assertConversationId(options.session) } : {}) };
}

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
      const entries = await withHistory(opts, io, (h) => h.list(queryOf(opts)));
      print(io, entries, opts, `no messages in the history of ${homeOf(opts)}`);
      setExit(0);
    });
  historyOptions(history.command('search'))
    .description('find messages containing TEXT (case-insensitive), newest first')
    .argument('<text>', 'the text to look for')
    .action(async (text: string, opts: HistoryOptions, command: Command) => {
      const merged = { ...command.parent?.opts(), ...opts } as HistoryOptions;
      const entries = await withHistory(merged, io, (h) => h.search(text, queryOf(merged)));
      print(io, entries, merged, `no messages containing ${JSON.stringify(text)}`);
      setExit(0);
    });
  return history;
}
