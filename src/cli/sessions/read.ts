/**
 * The reading side of `colloquy sessions`: `list` (a page of conversations, with the cursor of
 * the next), `show` (one conversation, readably), `export` (its log records as JSONL, or a
 * Markdown transcript) and `reindex` (rebuild the listing index from the logs).
 */
import { rename, rm } from 'node:fs/promises';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidOpError, SessionNotFoundError } from '../../errors.js';
import { ConversationFold } from '../../log/fold.js';
import { replay } from '../../log/replay.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { ConversationSummary, ListQuery } from '../../store/store.js';
import { showText, toMarkdown } from '../format/transcript.js';
import { writeJson, type CommandIO, type Sink } from '../shared/io.js';
import { homeOf, type HomeOption } from '../shared/options.js';
import { withRuntime } from '../shared/runtime.js';
import { oneLine, shellWord, shortTime } from '../shared/text.js';
import { UsageError } from '../shared/usage.js';

/** Options of `sessions list`. */
export interface ListOptions extends HomeOption {
  readonly limit?: number;
  readonly cursor?: string;
  readonly sort?: 'created' | 'updated';
  readonly archived?: boolean;
  readonly name?: string;
  readonly json?: boolean;
}

/** One row of the human listing: id, time, model, name, origin. */
function row(s: ConversationSummary, sort: 'created' | 'updated'): string {
  const time = shortTime(sort === 'created' ? s.createdAt : s.updatedAt);
  const name = s.name !== undefined ? `"${oneLine(s.name, 60)}"` : '-';
  const extra = [s.forkedFrom ? `fork of ${s.forkedFrom.id}` : '', s.archived ? 'archived' : ''].filter(Boolean);
  return `${s.id}  ${time}  ${s.model}  ${name}${extra.length > 0 ? `  (${extra.join(', ')})` : ''}`;
}

/**
 * `sessions list`: one page, newest first. People get one row per conversation on stdout and
 * the command for the next page on stderr; `--json` prints `{ items, nextCursor }`.
 */
export async function runList(options: ListOptions, io: CommandIO): Promise<number> {
  const sort = options.sort ?? 'updated';
  const query: ListQuery = {
    limit: options.limit ?? 20,
    sort,
    ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
    ...(options.archived ? { archived: true } : {}),
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  const home = homeOf(options);
  if (!existsSync(home)) {
    // Nothing stored there yet: say so without creating the directory (a mistyped --home).
    if (options.json) writeJson(io.stdout, { items: [], nextCursor: null });
    else io.stderr.write(`no conversations: ${home} does not exist\n`);
    return 0;
  }
  return withRuntime(home, async (runtime) => {
    let page;
    try {
      page = await runtime.list(query);
    } catch (err) {
      if (err instanceof InvalidOpError) throw new UsageError(err.message);
      throw err;
    }
    if (options.json) {
      writeJson(io.stdout, { items: page.items, nextCursor: page.nextCursor });
      return 0;
    }
    for (const s of page.items) io.stdout.write(`${row(s, sort)}\n`);
    if (page.items.length === 0) io.stderr.write(`no ${options.archived ? 'archived ' : ''}conversations${options.cursor ? ' after this cursor' : ''} in ${runtime.store.description}\n`);
    if (page.nextCursor) {
      // The same listing, so the command works as printed: the same home, filters and sort.
      const flags = [
        options.home !== undefined ? `--home ${shellWord(homeOf(options))}` : '',
        options.archived ? '--archived' : '',
        sort !== 'updated' ? `--sort ${sort}` : '',
        options.limit !== undefined ? `--limit ${options.limit}` : '',
        options.name !== undefined ? `--name ${shellWord(options.name)}` : '',
      ].filter(Boolean);
      io.stderr.write(`next cursor: ${page.nextCursor}\n`);
      io.stderr.write(`next page: colloquy sessions list ${[...flags, `--cursor ${page.nextCursor}`].join(' ')}\n`);
    }
    return 0;
  });
}

/** Options of `sessions show`. */
export interface ShowOptions extends HomeOption {
  readonly json?: boolean;
}

/** The summary of a conversation, or null when the store cannot give one (it is read anyway). */
async function summaryOf(runtime: Runtime, id: string): Promise<ConversationSummary | null> {
  return runtime.store.summary(id).catch(() => null);
}

/**
 * The ids of the turns that a rollback took out of the model's history. They stay in the log
 * (and in `runtime.read`'s turns); `show` and the transcript mark them. Found by folding the
 * log again alongside a fold of its own, and comparing the history's turns around each
 * `rolled_back` record.
 */
export async function rolledBackTurns(runtime: Runtime, id: string): Promise<string[]> {
  const mirror = new ConversationFold();
  const out: string[] = [];
  await replay(runtime.store, id, {
    // From the first record, not from the last compaction: a rollback before it counts too.
    transcript: true,
    onRecord: (record) => {
      if (record.type !== 'rolled_back') {
        mirror.apply(record);
        return;
      }
      const before = mirror.historyBounds.map((b) => b.turnId);
      mirror.apply(record);
      const after = new Set(mirror.historyBounds.map((b) => b.turnId));
      for (const turnId of before) if (!after.has(turnId)) out.push(turnId);
    },
  });
  return out;
}

/**
 * `sessions show <id>`: the conversation read from its log (no lock is taken, so it works while
 * another process writes it). `--json` prints `runtime.read`'s record plus the listing summary
 * and `rolledBack` (the ids of the turns a rollback took out of the model's history).
 */
export async function runShow(id: string, options: ShowOptions, io: CommandIO): Promise<number> {
  return withRuntime(homeOf(options), async (runtime) => {
    const record = await runtime.read(id);
    const summary = await summaryOf(runtime, record.id);
    const rolledBack = await rolledBackTurns(runtime, record.id);
    if (options.json) {
      writeJson(io.stdout, {
        ...record,
        archived: summary?.archived ?? false,
        createdAt: summary?.createdAt ?? record.meta.created_at,
        updatedAt: summary?.updatedAt ?? null,
        rolledBack,
      });
    } else {
      io.stdout.write(showText(record, summary, new Set(rolledBack)));
    }
    return 0;
  });
}

/** Options of `sessions export`. */
export interface ExportOptions extends HomeOption {
  readonly format?: 'jsonl' | 'md';
  /** Write here instead of stdout (mode 0600; replaced only once the export is complete). */
  readonly output?: string;
}

/** A sink that waits for `drain` when a stream asks it to. */
interface Out {
  write(text: string): Promise<void>;
}

function sinkOut(sink: Sink): Out {
  return {
    write: (text) =>
      new Promise((done) => {
        const stream = sink as Sink & Partial<Pick<WriteStream, 'once'>>;
        const ok = sink.write(text);
        if (ok === false && typeof stream.once === 'function') stream.once('drain', () => done());
        else done();
      }),
  };
}

async function exportTo(out: Out, runtime: Runtime, id: string, format: 'jsonl' | 'md'): Promise<void> {
  if (format === 'md') {
    const record = await runtime.read(id);
    await out.write(toMarkdown(record, await summaryOf(runtime, record.id), new Set(await rolledBackTurns(runtime, record.id))));
    return;
  }
  // The log's records in `seq` order, as the store reads them: each line validated, a torn
  // last line (a write cut by a crash) left out.
  let lines: string[] = [];
  for await (const record of runtime.store.read(id)) {
    lines.push(JSON.stringify(record));
    if (lines.length >= 256) {
      await out.write(`${lines.join('\n')}\n`);
      lines = [];
    }
  }
  if (lines.length > 0) await out.write(`${lines.join('\n')}\n`);
}

/**
 * `sessions export <id>`: the log records as JSONL (default), or a Markdown transcript. With
 * `-o file` the export goes to a temporary file renamed over `file` once complete (mode 0600:
 * conversations are private), so a failed export leaves no partial file.
 */
export async function runExport(id: string, options: ExportOptions, io: CommandIO): Promise<number> {
  const format = options.format ?? 'jsonl';
  return withRuntime(homeOf(options), async (runtime) => {
    // Checked before anything is written.
    if (!(await runtime.store.exists(id))) throw new SessionNotFoundError(id, runtime.store.description);
    if (options.output === undefined || options.output === '-') {
      await exportTo(sinkOut(io.stdout), runtime, id, format);
      return 0;
    }
    const target = resolve(options.output);
    const temp = `${target}.${process.pid}.tmp`;
    const stream = createWriteStream(temp, { mode: 0o600 });
    const opened = new Promise<void>((ok, fail) => {
      stream.once('open', () => ok());
      stream.once('error', fail);
    });
    try {
      await opened.catch((err: unknown) => {
        // The temporary file is an implementation detail: name the file asked for.
        const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'its directory does not exist' : err instanceof Error ? err.message : String(err);
        throw new Error(`cannot write ${target}: ${reason}`);
      });
      await exportTo(sinkOut(stream), runtime, id, format);
      await new Promise<void>((ok, fail) => {
        stream.once('error', fail);
        stream.end(() => ok());
      });
      await rename(temp, target);
    } catch (err) {
      stream.destroy();
      await rm(temp, { force: true });
      throw err;
    }
    io.stderr.write(`exported ${id} (${format}) to ${target}\n`);
    return 0;
  });
}

/** Options of `sessions reindex`. */
export interface ReindexOptions extends HomeOption {
  readonly json?: boolean;
}

/** How many conversations a listing holds (paged through, 1,000 at a time). */
async function count(runtime: Runtime, archived: boolean): Promise<number> {
  let n = 0;
  let cursor: string | null = null;
  do {
    const page = await runtime.list({ limit: 1000, sort: 'created', archived, cursor });
    n += page.items.length;
    cursor = page.nextCursor;
  } while (cursor !== null);
  return n;
}

/** `sessions reindex`: rebuild the listing index from the logs, then count what it lists. */
export async function runReindex(options: ReindexOptions, io: CommandIO): Promise<number> {
  return withRuntime(homeOf(options), async (runtime) => {
    await runtime.reindex();
    const active = await count(runtime, false);
    const archived = await count(runtime, true);
    if (options.json) writeJson(io.stdout, { reindexed: true, home: homeOf(options), active, archived });
    else io.stdout.write(`reindexed ${runtime.store.description}: ${active} conversation${active === 1 ? '' : 's'}, ${archived} archived\n`);
    return 0;
  });
}
