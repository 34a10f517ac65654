/**
 * Rebuilding the file store's listing index from its logs: every log under the active and
 * archived roots (`YYYY/MM/DD/<id>.jsonl`, newest first), each one's header, last name and
 * modification time.
 */
import { join } from 'node:path';
import { CorruptLogError } from '../errors.js';
import type { FileSystem } from './fs.js';
import type { IndexPatch, ListingIndex } from './listing-index.js';
import { lastNameIn, LOG_FILE, readHead } from './log-locator.js';
import type { StorePaths } from './paths.js';
import type { LogIssue } from './store.js';

/** Every log under the active or archived root, newest id first (a missing root has none). */
export async function* walkLogs(fs: FileSystem, paths: StorePaths, archived: boolean): AsyncIterable<{ id: string; path: string }> {
  const root = paths.root(archived);
  const desc = (names: string[], pattern: RegExp): string[] => names.filter((n) => pattern.test(n)).sort().reverse();
  for (const year of desc(await fs.readdir(root), /^\d{4}$/)) {
    for (const month of desc(await fs.readdir(join(root, year)), /^\d{2}$/)) {
      for (const day of desc(await fs.readdir(join(root, year, month)), /^\d{2}$/)) {
        const dir = join(root, year, month, day);
        for (const name of desc(await fs.readdir(dir), LOG_FILE)) {
          yield { id: name.slice(0, 26), path: join(dir, name) };
        }
      }
    }
  }
}

/**
 * Rewrite `index` from the logs (active and archived). Logs whose header cannot be read are
 * left out and reported (`bad_line`, "not indexed"), except those that never got one, which
 * `discardHeaderless` removes (and reports) when it can.
 * @throws the file-system errors met walking or reading the logs (other than a corrupt log's).
 */
export async function reindexLogs(
  fs: FileSystem,
  paths: StorePaths,
  index: ListingIndex,
  report: (issue: LogIssue) => void,
  discardHeaderless: (id: string, path: string) => Promise<boolean>,
): Promise<void> {
  const patches: IndexPatch[] = [];
  for (const archived of [false, true]) {
    for await (const { id, path } of walkLogs(fs, paths, archived)) {
      try {
        const [head, st] = await Promise.all([readHead(fs, path), fs.stat(path)]);
        if (head.type !== 'session_meta' || !st) continue;
        const meta = head.payload;
        const name = await lastNameIn(fs, path, meta);
        patches.push({
          id: meta.id,
          c: Date.parse(meta.created_at),
          u: Math.floor(st.mtimeMs),
          ...(name !== undefined ? { name } : {}),
          ...(meta.metadata !== undefined ? { meta: meta.metadata } : {}),
          ...(meta.forked_from !== undefined ? { fork: meta.forked_from } : {}),
          ...(archived ? { arch: true } : {}),
          model: meta.config.model,
          cwd: meta.config.cwd,
        });
      } catch (err) {
        if (!(err instanceof CorruptLogError)) throw err;
        if (await discardHeaderless(id, path)) continue;
        report({ kind: 'bad_line', location: path, line: err.line, detail: `not indexed: ${err.reason}` });
      }
    }
  }
  patches.sort((a, b) => (a.id < b.id ? -1 : 1));
  await index.rewrite(patches);
}
