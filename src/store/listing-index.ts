/**
 * The listing index: `<home>/index.jsonl`, derived from the logs and rebuildable from them
 * (`reindex`). Each line is a patch of one conversation's summary — the full summary when it is
 * created, then what changes (`u` when it was updated, a new name, archived, deleted); later
 * patches win field by field. Patches are appended as the logs are written, so listing never
 * opens the logs themselves.
 *
 * The first page of the default listing (newest created first) is read from the end of the
 * file backwards, so it costs the same with 100 or 100,000 conversations; other sorts and
 * later pages fold the whole file once per store and then only what was appended since.
 *
 * Codex keeps a SQLite index beside its rollouts and lists from it, but it drifts from the
 * files (openai/codex#19822) and its timestamp cursor drops same-second sessions; here a
 * patch naming a log that no longer exists is dropped when listed, creation patches are
 * fsynced before the log is created, and cursors are exact ids.
 */
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { isConversationId } from '../protocol/ids.js';
import type { ForkOrigin, Metadata } from '../protocol/records.js';
import { READ_FLAGS, SIDE_FILE_FLAGS, type FileSystem } from './fs.js';
import { compareListed, type Listed } from './listing.js';
import { DIR_MODE, FILE_MODE } from './paths.js';
import { scanBackward } from './reverse.js';
import type { ConversationSummary } from './store.js';

/** The index file's name under the store's home. */
export const INDEX_FILE = 'index.jsonl';

/** The index format; an index of another format is rebuilt. */
export const INDEX_FORMAT = 1;

/**
 * Creation patches are appended in id order within a process; across processes they may
 * interleave slightly out of order. The first page stops once this many creation patches in a
 * row are older than every conversation on it.
 */
const SETTLE_RUN = 256;

/** A change to one conversation's summary. Times are ms since the epoch. */
export interface IndexPatch {
  readonly id: string;
  /** Created (only on the creation patch). */
  readonly c?: number;
  /** Updated. */
  readonly u?: number;
  readonly name?: string;
  readonly meta?: Metadata;
  readonly arch?: boolean;
  readonly fork?: ForkOrigin;
  readonly model?: string;
  readonly cwd?: string;
  /** Deleted. */
  readonly del?: true;
}

/** A conversation as the index knows it. */
interface Entry {
  id: string;
  c?: number;
  u?: number;
  name?: string;
  meta?: Metadata;
  arch?: boolean;
  fork?: ForkOrigin;
  model?: string;
  cwd?: string;
  del?: boolean;
}

/** Merge an older patch under a newer entry (fields already set stay). */
function under(entry: Entry, older: IndexPatch): void {
  for (const key of ['c', 'u', 'name', 'meta', 'arch', 'fork', 'model', 'cwd'] as const) {
    if (entry[key] === undefined && older[key] !== undefined) (entry as unknown as Record<string, unknown>)[key] = older[key];
  }
  if (entry.del === undefined && older.del) entry.del = true;
}

/** Apply a newer patch over an entry. */
function over(entry: Entry, newer: IndexPatch): void {
  for (const key of ['c', 'u', 'name', 'meta', 'arch', 'fork', 'model', 'cwd'] as const) {
    if (newer[key] !== undefined) (entry as unknown as Record<string, unknown>)[key] = newer[key];
  }
  if (newer.del) entry.del = true;
}

/** An entry as a listed summary; null while it is incomplete or deleted. */
export function listedOf(entry: Entry): Listed | null {
  if (!isConversationId(entry.id) || entry.del || entry.c === undefined || entry.model === undefined || entry.cwd === undefined) return null;
  const updatedMs = entry.u ?? entry.c;
  const summary: ConversationSummary = {
    id: entry.id,
    createdAt: new Date(entry.c).toISOString(),
    updatedAt: new Date(updatedMs).toISOString(),
    ...(entry.name !== undefined ? { name: entry.name } : {}),
    ...(entry.meta !== undefined ? { metadata: entry.meta } : {}),
    ...(entry.fork !== undefined ? { forkedFrom: entry.fork } : {}),
    archived: entry.arch ?? false,
    model: entry.model,
    cwd: entry.cwd,
  };
  return { summary, updatedMs };
}

function parsePatch(line: string): IndexPatch | { format: number } | null {
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    if (typeof value.format === 'number') return { format: value.format };
    return typeof value.id === 'string' ? (value as unknown as IndexPatch) : null;
  } catch {
    return null;
  }
}

/** The listing index of a file store rooted at `home`. */
export class ListingIndex {
  readonly path: string;
  readonly #fs: FileSystem;
  /** The whole index folded, with where the fold stopped (to read only what was appended since). */
  #cache: { ino: number; size: number; entries: Map<string, Entry>; lines: number } | null = null;
  /** The folded entries as listed summaries, and at which index size they were made. */
  #listed: Listed[] | null = null;
  #listedAt = -1;
  readonly #sorted = new Map<'created' | 'updated', Listed[]>();

  constructor(home: string, fs: FileSystem) {
    this.path = join(home, INDEX_FILE);
    this.#fs = fs;
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    await this.#fs.mkdirp(dirname(this.path), DIR_MODE);
    const release = await lockfile.lock(this.path, {
      realpath: false,
      stale: 2_000,
      retries: { retries: 40, minTimeout: 20, maxTimeout: 100, factor: 1.5 },
      onCompromised: () => {},
    });
    try {
      return await fn();
    } finally {
      await release().catch(() => {});
    }
  }

  /** Whether the index exists in the current format. */
  async usable(): Promise<boolean> {
    const st = await this.#fs.stat(this.path);
    if (!st || st.size === 0) return false;
    const fd = await this.#fs.open(this.path, READ_FLAGS);
    try {
      const buffer = Buffer.allocUnsafe(Math.min(st.size, 256));
      const n = await this.#fs.read(fd, buffer, 0, buffer.length, 0);
      const nl = buffer.subarray(0, n).indexOf(0x0a);
      const first = parsePatch(buffer.toString('utf8', 0, nl === -1 ? n : nl));
      return first !== null && 'format' in first && first.format === INDEX_FORMAT;
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  /**
   * Append patches as one write. With `durable` (patches that create conversations), the
   * write is fsynced, so it is never lost to a crash; an append that a concurrent rebuild left
   * in the replaced file is made again.
   */
  async append(patches: readonly IndexPatch[], durable: boolean): Promise<void> {
    if (patches.length === 0) return;
    let text = '';
    for (const p of patches) text += `${JSON.stringify(p)}\n`;
    await this.#fs.mkdirp(dirname(this.path), DIR_MODE);
    // No lock: if a rebuild replaced the file while this append went to the old one, append again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const fd = await this.#fs.open(this.path, SIDE_FILE_FLAGS, FILE_MODE);
      try {
        // A new index starts with its format line.
        const header = (await this.#fs.fstatSize(fd)) === 0 ? `${JSON.stringify({ format: INDEX_FORMAT })}\n` : '';
        await this.#fs.writeAll(fd, Buffer.from(header + text, 'utf8'));
        if (durable) await this.#fs.fdatasync(fd);
        const current = await this.#fs.statIno(this.path).catch(() => -1);
        if (current === (await this.#fs.fstatIno(fd))) return;
      } finally {
        await this.#fs.close(fd).catch(() => {});
      }
    }
  }

  /**
   * The newest-created page, read backwards from the end of the file: entries until `limit + 1`
   * complete matches are found and the creation patches read are older than the oldest of them
   * by more than the append skew. Resolves with the entries, newest first.
   */
  async newest(limit: number, accept: (listed: Listed) => boolean): Promise<Listed[]> {
    const fd = await this.#fs.open(this.path, READ_FLAGS);
    try {
      const size = await this.#fs.fstatSize(fd);
      const seen = new Map<string, Entry>();
      const found: Listed[] = [];
      let oldestKept = '';
      let olderRun = 0;
      await scanBackward(this.#fs, fd, size, (line) => {
        const patch = parsePatch(line.toString('utf8'));
        if (!patch || 'format' in patch || !isConversationId(patch.id)) return false;
        let entry = seen.get(patch.id);
        if (!entry) {
          entry = { id: patch.id };
          seen.set(patch.id, entry);
        }
        under(entry, patch);
        if (patch.c === undefined) return false;
        // A creation patch: the entry is now complete.
        if (found.length > limit) {
          olderRun = patch.id < oldestKept ? olderRun + 1 : 0;
          if (olderRun >= SETTLE_RUN) return true;
        }
        const listed = listedOf(entry);
        if (listed && accept(listed)) {
          found.push(listed);
          if (found.length > limit) {
            found.sort((a, b) => (a.summary.id < b.summary.id ? 1 : -1));
            found.length = limit + 1;
            oldestKept = (found[limit] as Listed).summary.id;
          }
        }
        return false;
      });
      return found.sort((a, b) => (a.summary.id < b.summary.id ? 1 : -1));
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  /** Every conversation in the index (folding only what was appended since the last call). */
  async all(): Promise<Listed[]> {
    const st = await this.#fs.stat(this.path);
    if (!st) return [];
    const ino = await this.#fs.statIno(this.path);
    let cache = this.#cache;
    if (!cache || cache.ino !== ino || st.size < cache.size) cache = { ino, size: 0, entries: new Map(), lines: 0 };
    if (st.size > cache.size) {
      const fd = await this.#fs.open(this.path, READ_FLAGS);
      try {
        const length = st.size - cache.size;
        const buffer = Buffer.allocUnsafe(length);
        let done = 0;
        while (done < length) {
          const n = await this.#fs.read(fd, buffer, done, length - done, cache.size + done);
          if (n === 0) break;
          done += n;
        }
        // Fold whole lines only; a partial last line is read again next time.
        const end = buffer.subarray(0, done).lastIndexOf(0x0a) + 1;
        let start = 0;
        for (let nl = buffer.indexOf(0x0a, start); nl !== -1 && nl < end; nl = buffer.indexOf(0x0a, start)) {
          const patch = parsePatch(buffer.toString('utf8', start, nl));
          start = nl + 1;
          cache.lines++;
          if (!patch || 'format' in patch) continue;
          let entry = cache.entries.get(patch.id);
          if (!entry) {
            entry = { id: patch.id };
            cache.entries.set(patch.id, entry);
          }
          over(entry, patch);
        }
        cache.size += end;
      } finally {
        await this.#fs.close(fd).catch(() => {});
      }
    }
    if (this.#cache !== cache || cache.size !== this.#listedAt) {
      this.#cache = cache;
      this.#listed = null;
      this.#sorted.clear();
    }
    if (!this.#listed) {
      const out: Listed[] = [];
      for (const entry of cache.entries.values()) {
        const listed = listedOf(entry);
        if (listed) out.push(listed);
      }
      this.#listed = out;
      this.#listedAt = cache.size;
    }
    return this.#listed;
  }

  /**
   * Every conversation, sorted newest first by `sort` (kept until the index changes, so paging
   * through a large listing sorts once).
   */
  async sorted(sort: 'created' | 'updated'): Promise<readonly Listed[]> {
    const all = await this.all();
    let sorted = this.#sorted.get(sort);
    if (!sorted) {
      sorted = [...all].sort(compareListed(sort));
      this.#sorted.set(sort, sorted);
    }
    return sorted;
  }

  /**
   * Replace the index with these conversations (a rebuild, or folding patches away): a new file
   * written beside it, fsynced, renamed over it.
   */
  async rewrite(entries: readonly IndexPatch[]): Promise<void> {
    const text = [JSON.stringify({ format: INDEX_FORMAT }), ...entries.map((e) => JSON.stringify(e))].join('\n');
    await this.#locked(() => this.#fs.writeFileAtomic(this.path, `${text}\n`, FILE_MODE));
    this.#cache = null;
    this.#listed = null;
    this.#sorted.clear();
  }

  /** Fold the patches away when they outnumber the conversations by far (fewer lines to read). */
  async compactIfBloated(): Promise<void> {
    const cache = this.#cache;
    if (!cache || cache.lines < 10_000 || cache.lines < cache.entries.size * 4) return;
    const live = [...cache.entries.values()].filter((e) => !e.del && e.c !== undefined).sort((a, b) => (a.id < b.id ? -1 : 1));
    await this.rewrite(live.map((e) => ({ ...e, del: undefined }) as IndexPatch));
  }
}

