/**
 * Import Codex rollouts (SPEC §5 "Codex interop"): read a Codex rollout file
 * (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`, any variant: legacy, envelope, paginated)
 * line by line and write it through a runtime as a new Colloquy conversation that resumes with
 * the same history. What maps to what: `codex-mapper.ts` and `codex-items.ts`.
 *
 * A client of the runtime: the conversation is created from the mapped header
 * (`runtime.create`) and its records go through its actor (`appendRecords`), the one door to
 * its log, in batches of whole turns. The file is streamed (memory is one chunk, one line and
 * the records of one turn, whatever the file's size); an import that fails half-way deletes
 * what it wrote.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ColloquyError, CorruptLogError, StoreError } from '../errors.js';
import { newConversationId } from '../protocol/ids.js';
import type { RecordDraft } from '../log/draft.js';
import type { ReadMode } from '../log/types.js';
import type { LogRecord, Metadata } from '../protocol/records.js';
import type { Conversation } from '../runtime/conversation.js';
import type { Runtime } from '../runtime/runtime.js';
import { classifyCodexLine, isObject } from './codex-lines.js';
import { CodexRolloutMapper, type CodexImportIssue } from './codex-mapper.js';
import { readLines } from './jsonl-lines.js';

export type { CodexImportIssue } from './codex-mapper.js';

/** A rollout file name, as Codex writes them (`rollout-<local time>-<thread uuid>.jsonl`). */
export const CODEX_ROLLOUT_FILE = /^rollout-.*\.jsonl$/;

/** Options of `importCodexRollout` / `importCodexRollouts`: how bad lines are treated, the batch size of the writes, the new conversation's name, metadata and cwd, and where issues go. The writes are as durable as the runtime's commits. */
export interface CodexImportOptions {
  /**
   * How lines that are not JSON objects are treated: `strict` (default) fails the import with a
   * `CorruptLogError` naming file and line; `lenient` skips them and reports them as issues.
   * A torn last line (no newline, not JSON: Codex died mid-write) is skipped and reported in
   * both modes.
   */
  readonly mode?: ReadMode;
  /** Records per write, at least (a write ends at a turn's end). Default 512. */
  readonly batchSize?: number;
  /** Name of the new conversation. */
  readonly name?: string;
  /** Metadata added to the new conversation's (next to the `codex.*` keys). */
  readonly metadata?: Metadata;
  /** The conversation's cwd when the rollout names none (legacy variant). Default `process.cwd()`. */
  readonly cwd?: string;
  /** Called for each issue as it is found (they are also in the result). */
  readonly onIssue?: (issue: CodexImportIssue) => void;
}

/** What one import made. */
export interface CodexImportResult {
  /** The new conversation's id (a ULID). */
  readonly id: string;
  /** The rollout file (absolute). */
  readonly path: string;
  /** The Codex thread id (`session_meta.id`). */
  readonly codexThreadId: string | null;
  /** Turns recorded. */
  readonly turns: number;
  /** Thread items recorded. */
  readonly items: number;
  /** Lines kept verbatim as `opaque` records. */
  readonly opaque: number;
  /** Records written in all. */
  readonly records: number;
  /** What was found that is not a cleanly mapped line (skipped lines, ordinal gaps…): the first `MAX_KEPT_ISSUES`. */
  readonly issues: readonly CodexImportIssue[];
  /** Issues found beyond those in `issues` (all of them went to `onIssue`). */
  readonly issuesOmitted: number;
}

/** Issues an import result keeps (the rest are counted; `onIssue` sees them all). */
export const MAX_KEPT_ISSUES = 1000;

/** A rollout that could not be imported (by `importCodexRollouts`). */
export interface CodexImportFailure {
  readonly path: string;
  readonly error: Error;
}

/** A file that cannot be imported at all (unreadable, compressed). Nothing was written. */
export class CodexImportError extends ColloquyError {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('import_failed', `${path}: ${message}`, options);
    this.path = path;
  }
}

/** Buffers mapped records and writes them, whole turns at a time, through the new conversation's actor. */
class ConversationSink {
  #buffer: LogRecord[] = [];
  #conversation: Conversation | null = null;
  constructor(
    readonly runtime: Runtime,
    readonly id: string,
    readonly batchSize: number,
  ) {}

  add(records: readonly LogRecord[]): void {
    for (const r of records) this.#buffer.push(r);
  }

  get full(): boolean {
    return this.#buffer.length >= this.batchSize;
  }

  async flush(): Promise<void> {
    if (this.#buffer.length === 0) return;
    const records = this.#buffer;
    this.#buffer = [];
    let rest = records;
    if (!this.#conversation) {
      const [head, ...more] = records;
      if (head?.type !== 'session_meta') throw new StoreError(`imported conversation ${this.id} has no header`);
      this.#conversation = await this.runtime.create(head.payload);
      rest = more;
    }
    const first = rest[0];
    if (!first) return;
    const drafts = rest.map((r) => ({ type: r.type, payload: r.payload, ts: r.ts }) as RecordDraft);
    // The mapper's numbering is the conversation's: refused otherwise, and nothing is written.
    await this.#conversation.appendRecords(drafts, { expectedSeq: first.seq, remember: false }).catch((err: unknown) => {
      if (err instanceof ColloquyError && err.code !== 'invalid_op') {
        throw new StoreError(`could not write imported conversation ${this.id} to ${this.runtime.store.description}: ${err.message}`, { cause: err });
      }
      throw err;
    });
  }

  /** Give the conversation up (its lease is released), keeping what was written. */
  async close(): Promise<void> {
    await this.#conversation?.close();
  }

  /** Remove what was written (after a failure). */
  async discard(): Promise<void> {
    this.#buffer = [];
    if (this.#conversation) await this.runtime.delete(this.id).catch(() => {});
  }
}

/**
 * Import one Codex rollout file through `runtime` as a new conversation (in its store).
 * @returns the new conversation's id and counts of what was imported.
 * @throws {CorruptLogError} (strict mode) for a line that is not a JSON object, naming file and
 *   line; in any mode when the file has no `session_meta` line. Nothing is left in the store.
 * @throws {CodexImportError} when the file cannot be read.
 * @throws {StoreError} when the store cannot write the conversation.
 */
export async function importCodexRollout(runtime: Runtime, path: string, options: CodexImportOptions = {}): Promise<CodexImportResult> {
  const full = resolve(path);
  if (full.endsWith('.zst')) throw new CodexImportError(full, 'compressed rollouts (.jsonl.zst) are not supported; decompress it first (zstd -d)');
  const strict = (options.mode ?? 'strict') === 'strict';
  const issues: CodexImportIssue[] = [];
  let issuesOmitted = 0;
  const report = (issue: CodexImportIssue): void => {
    if (issues.length < MAX_KEPT_ISSUES) issues.push(issue);
    else issuesOmitted++;
    options.onIssue?.(issue);
  };
  const id = newConversationId();
  const mapper = new CodexRolloutMapper({
    id,
    path: full,
    onIssue: report,
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  const sink = new ConversationSink(runtime, id, Math.max(1, options.batchSize ?? 512));
  let first = true;
  try {
    for await (const line of readFileLines(full)) {
      let text = line.text;
      if (line.number === 1 && text.charCodeAt(0) === 0xfeff) {
        text = text.slice(1);
        report({ kind: 'bom', path: full, line: 1, detail: 'UTF-8 byte-order mark skipped' });
      }
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        value = undefined;
      }
      if (!isObject(value)) {
        const reason = value === undefined ? 'not valid JSON' : 'not a JSON object';
        if (!line.terminated) {
          report({ kind: 'torn_tail', path: full, line: line.number, detail: `last line has no newline and is ${reason} (a write cut short); skipped` });
          continue;
        }
        if (strict) throw new CorruptLogError(full, line.number, reason);
        report({ kind: 'bad_line', path: full, line: line.number, detail: `${reason}; skipped` });
        continue;
      }
      sink.add(mapper.push(classifyCodexLine(value, first), line.number));
      first = false;
      if (sink.full && !mapper.inTurn) await sink.flush();
    }
    sink.add(mapper.end());
    await sink.flush();
  } catch (err) {
    await sink.discard();
    throw err;
  }
  await sink.close();
  return { id, path: full, codexThreadId: mapper.codexThreadId, ...mapper.counts, issues, issuesOmitted };
}

/** The lines of a file, with read errors as `CodexImportError`s. */
async function* readFileLines(path: string): AsyncGenerator<{ number: number; text: string; terminated: boolean }> {
  try {
    yield* readLines(path);
  } catch (err) {
    if (err instanceof ColloquyError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CodexImportError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read it: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Every Codex rollout file under `dir` (recursively: `sessions/YYYY/MM/DD/` and the flat
 * `archived_sessions/` alike), sorted by path. Compressed rollouts (`.jsonl.zst`) are listed too,
 * so an import can report them.
 * @throws {CodexImportError} when `dir` cannot be read.
 */
export async function findCodexRollouts(dir: string): Promise<string[]> {
  const root = resolve(dir);
  let entries;
  try {
    entries = await readdir(root, { recursive: true, withFileTypes: true });
  } catch (err) {
    throw new CodexImportError(root, `cannot read the directory: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  return entries
    .filter((e) => e.isFile() && (CODEX_ROLLOUT_FILE.test(e.name) || /^rollout-.*\.jsonl\.zst$/.test(e.name)))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/**
 * Import every rollout under `dir` (see `findCodexRollouts`) through `runtime`, one conversation each. A file that
 * fails does not stop the others: it is listed in `failed`. `options.name` is not used (each
 * conversation would get the same name).
 */
export async function importCodexRollouts(
  runtime: Runtime,
  dir: string,
  options: CodexImportOptions = {},
): Promise<{ readonly imported: CodexImportResult[]; readonly failed: CodexImportFailure[] }> {
  const imported: CodexImportResult[] = [];
  const failed: CodexImportFailure[] = [];
  const { name: _unused, ...each } = options;
  for (const path of await findCodexRollouts(dir)) {
    try {
      imported.push(await importCodexRollout(runtime, path, each));
    } catch (err) {
      failed.push({ path, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return { imported, failed };
}
