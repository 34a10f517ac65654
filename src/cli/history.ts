/**
 * `colloquy history [search TEXT]`: the global message history (`<home>/history.jsonl`, every
 * user message of every conversation), newest first. People get one line per message:
 * `time  conversation  text`; `--json` prints `{ entries: [{ id, sessionId, ts, text }] }`
 * (`ts` in Unix seconds, as Codex's history).
 *
 * Exit codes: 0 ok (also when nothing matched); 1 the history could not be read; 2 usage.
 */
import { assertConversationId } from '../protocol/ids.js';
import { MessageHistory, type HistoryEntry, type HistoryIssue } from '../store/history.js';
import { writeJson, type CommandIO } from './shared/io.js';
import { homeOf, type HomeOption } from './shared/options.js';
import { oneLine, shortTime } from './shared/text.js';

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
    const time = shortTime(new Date(e.ts * 1000).toISOString());
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

/** Run `colloquy history`: the newest messages. Resolves with the exit code. */
export async function runHistory(options: HistoryOptions, io: CommandIO): Promise<number> {
  const entries = await withHistory(options, io, (h) => h.list(queryOf(options)));
  print(io, entries, options, `no messages in the history of ${homeOf(options)}`);
  return 0;
}

/** Run `colloquy history search TEXT`: the newest messages containing `text`. Resolves with the exit code. */
export async function runHistorySearch(text: string, options: HistoryOptions, io: CommandIO): Promise<number> {
  const entries = await withHistory(options, io, (h) => h.search(text, queryOf(options)));
  print(io, entries, options, `no messages containing ${JSON.stringify(text)}`);
  return 0;
}
