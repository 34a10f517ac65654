/**
 * `colloquy import codex <file|dir>`: import Codex rollouts as new Colloquy conversations.
 *
 * A file is imported as one conversation; a directory (e.g. `~/.codex`) has every
 * `rollout-*.jsonl` under it imported, each as its own conversation. People get one line per
 * import on stdout (`<new id>  <rollout path>  (…)`), warnings and a summary on stderr; with
 * `--json`, stdout is one JSON object `{ imported, failed, summary }`.
 *
 * Exit codes: 0 every rollout was imported; 1 any failed (or a directory held none);
 * 2 usage errors (no such file or directory).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ColloquyError } from '../errors.js';
import { importCodexRollout, importCodexRollouts, type CodexImportFailure, type CodexImportResult } from '../import/codex.js';
import { createRuntime } from '../runtime/runtime.js';
import { FileStore } from '../store/file-store.js';
import type { Sink } from './shared/io.js';
import { homeOf, type HomeOption } from './shared/options.js';
import { UsageError } from './shared/usage.js';

/** Options of `colloquy import codex`. */
export interface ImportOptions extends HomeOption {
  readonly json?: boolean;
  /** Skip lines that are not JSON (reporting them) instead of failing the file. */
  readonly lenient?: boolean;
}

/** Where the command writes. */
export interface ImportIO {
  readonly stdout: Sink;
  readonly stderr: Sink;
}

function errorCode(error: Error): string {
  return error instanceof ColloquyError ? error.code : 'error';
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function printHuman(io: ImportIO, imported: readonly CodexImportResult[], failed: readonly CodexImportFailure[], where: string): void {
  for (const r of imported) {
    for (const issue of r.issues) io.stderr.write(`warning: ${issue.path}:${issue.line}: ${issue.detail}\n`);
    if (r.issuesOmitted > 0) io.stderr.write(`warning: ${r.path}: ${r.issuesOmitted} more issues not shown\n`);
    io.stdout.write(`${r.id}  ${r.path}  (${plural(r.turns, 'turn')}, ${plural(r.items, 'item')}, ${r.opaque} opaque)\n`);
  }
  for (const f of failed) io.stderr.write(`error: ${f.error.message}\n`);
  const turns = imported.reduce((n, r) => n + r.turns, 0);
  const items = imported.reduce((n, r) => n + r.items, 0);
  io.stderr.write(
    `imported ${plural(imported.length, 'Codex rollout')} into ${where} (${plural(turns, 'turn')}, ${plural(items, 'item')})${failed.length > 0 ? `; ${failed.length} failed` : ''}\n`,
  );
  if (imported.length === 1 && imported[0]) io.stderr.write(`to continue: colloquy exec resume ${imported[0].id} "your next message"\n`);
}

function printJson(io: ImportIO, imported: readonly CodexImportResult[], failed: readonly CodexImportFailure[]): void {
  const out = {
    imported: imported.map((r) => ({
      id: r.id,
      path: r.path,
      codex_thread_id: r.codexThreadId,
      turns: r.turns,
      items: r.items,
      opaque: r.opaque,
      records: r.records,
      issues: r.issues,
      issues_omitted: r.issuesOmitted,
    })),
    failed: failed.map((f) => ({ path: f.path, error: f.error.message, code: errorCode(f.error) })),
    summary: {
      imported: imported.length,
      failed: failed.length,
      turns: imported.reduce((n, r) => n + r.turns, 0),
      items: imported.reduce((n, r) => n + r.items, 0),
    },
  };
  io.stdout.write(`${JSON.stringify(out)}\n`);
}

/** Run `colloquy import codex <path>`. Resolves with the process exit code. */
export async function runImportCodex(path: string, options: ImportOptions, io: ImportIO): Promise<number> {
  const full = resolve(path);
  const found = await stat(full).catch(() => null);
  if (!found) throw new UsageError(`${path}: no such file or directory`);
  const directory = found.isDirectory();
  const home = homeOf(options);
  const store = new FileStore({ home });
  // Nothing to passivate in a process that imports and ends.
  const runtime = createRuntime({ store, passivateAfterMs: 0 });
  const importOptions = { mode: options.lenient ? ('lenient' as const) : ('strict' as const) };
  let imported: CodexImportResult[] = [];
  let failed: CodexImportFailure[] = [];
  try {
    if (directory) {
      ({ imported, failed } = await importCodexRollouts(runtime, full, importOptions));
      if (imported.length === 0 && failed.length === 0) {
        failed.push({ path: full, error: new ColloquyError('import_failed', `${full}: no Codex rollouts (rollout-*.jsonl) found`) });
      }
    } else {
      try {
        imported.push(await importCodexRollout(runtime, full, importOptions));
      } catch (err) {
        failed.push({ path: full, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
  } finally {
    await runtime.shutdown();
  }
  if (options.json) printJson(io, imported, failed);
  else printHuman(io, imported, failed, store.description);
  return failed.length > 0 ? 1 : 0;
}
