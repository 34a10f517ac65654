/**
 * Trimming the message history, under its lock: when the file exceeds `maxBytes`, its newest
 * whole lines (at most 80% of `maxBytes`, Codex's soft cap; always the newest line) are copied
 * to `history.jsonl.trim`, which is fsynced and renamed over the history, and the directory is
 * fsynced: a crash at any point leaves the old file or the new one, both complete.
 */
import { StoreError } from '../errors.js';
import { describeError, REPLACE_FLAGS, type FileSystem } from './fs.js';
import { findLastNewline, findNewline, HISTORY_CHUNK_BYTES, readAt } from './history-lines.js';
import type { HeldLock } from './history-lock.js';
import { FILE_MODE } from './paths.js';

/** A trim cuts the file to at most this fraction of `maxBytes` (Codex's `HISTORY_SOFT_CAP_RATIO`). */
export const HISTORY_SOFT_CAP_RATIO = 0.8;

/** The files a trim works on: the history `path` in the directory `home`, through `fs`. */
export interface TrimTarget {
  readonly fs: FileSystem;
  readonly home: string;
  readonly path: string;
  /** Where the kept lines are written before the rename (`<path>.trim`). */
  readonly tempPath: string;
}

/**
 * Where the kept part of a `size`-byte file starts when cutting it to `softCap` bytes: the
 * first line starting at or after `size - softCap`; when the newest line alone is longer,
 * that line (as Codex's, which always keeps the newest entry). 0 keeps everything.
 */
async function trimStart(fs: FileSystem, fd: number, size: number, softCap: number): Promise<number> {
  const cut = size - softCap;
  if (cut <= 0) return 0;
  const nl = await findNewline(fs, fd, cut - 1, size - 1);
  if (nl !== -1) return nl + 1;
  return (await findLastNewline(fs, fd, size - 1)) + 1;
}

/** Copy bytes `[from, to)` of one descriptor to another's position. @throws {Error} when the source ends before `to`. */
async function copyRange(fs: FileSystem, src: number, dst: number, from: number, to: number): Promise<void> {
  const buffer = Buffer.allocUnsafe(HISTORY_CHUNK_BYTES * 4);
  for (let pos = from; pos < to; ) {
    const chunk = await readAt(fs, src, buffer, Math.min(buffer.length, to - pos), pos);
    if (chunk.length === 0) throw new Error(`the file ended at ${pos} bytes, before ${to}`);
    await fs.writeAll(dst, chunk);
    pos += chunk.length;
  }
}

/** Write bytes `[start, size)` of the history (open as `fd`) to the temporary file, mode 0600, fsynced. */
async function writeTemp(target: TrimTarget, fd: number, start: number, size: number): Promise<void> {
  const out = await target.fs.open(target.tempPath, REPLACE_FLAGS, FILE_MODE);
  try {
    await target.fs.fchmod(out, FILE_MODE);
    await copyRange(target.fs, fd, out, start, size);
    await target.fs.fsync(out);
  } finally {
    await target.fs.close(out).catch(() => {});
  }
}

/**
 * Under the lock `held`: when `size` (bytes of the history open as `fd`) exceeds `maxBytes`,
 * copy the newest lines (≤ 80% of it) to the temporary file, fsync it, rename it over the
 * history and fsync the directory. Resolves with whether it trimmed.
 * @throws {StoreError} when the trim fails before the rename (the temporary file is removed
 *   and the history left as it was, also when the lock was taken over meanwhile), or when the
 *   directory cannot be synced after it.
 */
export async function trimLocked(target: TrimTarget, fd: number, size: number, maxBytes: number | undefined, held: HeldLock): Promise<boolean> {
  if (maxBytes === undefined || size <= maxBytes) return false;
  const { fs, path, home, tempPath } = target;
  const start = await trimStart(fs, fd, size, Math.floor(maxBytes * HISTORY_SOFT_CAP_RATIO));
  if (start <= 0) return false;
  try {
    await writeTemp(target, fd, start, size);
    if (held.compromised) throw new Error(`the lock was taken over during the trim (${held.compromised.message})`);
    await fs.rename(tempPath, path);
  } catch (err) {
    await fs.unlink(tempPath).catch(() => {});
    throw new StoreError(`could not trim the message history ${path}: ${describeError(err)}; it was left as it was`, { path, cause: err });
  }
  try {
    await fs.syncDir(home);
  } catch (err) {
    throw new StoreError(`trimmed the message history ${path}, but could not sync ${home}: ${describeError(err)}`, { path, cause: err });
  }
  return true;
}
