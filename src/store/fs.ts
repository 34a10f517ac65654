/**
 * The file-system calls the store makes (its logs, listing index, leases and message
 * history), behind one interface so that tests can inject faults (ENOSPC, EIO) at any of
 * them. `nodeFileSystem` is the real one: thin promise wrappers over `node:fs` callbacks on
 * raw descriptors (cheaper than `fs/promises` handles on the commit path).
 *
 * Errors are those of `node:fs`, unchanged: errno errors with a `code` (`ENOENT`, `EMFILE`,
 * `ENOSPC`…), except where a member says it maps one (`readdir`, `stat`, `exists`).
 */
import fs from 'node:fs';
import { dirname } from 'node:path';

/**
 * The file-system calls the store makes (`nodeFileSystem` by default), injectable to test
 * faults such as ENOSPC and EIO. Sizes, offsets and positions are in bytes; times in ms;
 * modes are permission bits (`0o600`).
 */
export interface FileSystem {
  /** Open `path` with `flags` (the `*_FLAGS` below); a created file gets `mode` (default 0600). Resolves with the descriptor. */
  open(path: string, flags: number, mode?: number): Promise<number>;
  /** Close a descriptor. */
  close(fd: number): Promise<void>;
  /** Write all of `data` at the descriptor's position (looping over short writes). */
  writeAll(fd: number, data: Uint8Array): Promise<void>;
  /** Read up to `length` bytes at file `position` into `buffer` at `offset`; resolves with the count read (0 at the end). */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Flush an open file's data (and the metadata needed to read it back) to the disk. */
  fdatasync(fd: number): Promise<void>;
  /** Flush an open file's data and all of its metadata to the disk. */
  fsync(fd: number): Promise<void>;
  /** Cut (or extend) an open file to `length` bytes. */
  ftruncate(fd: number, length: number): Promise<void>;
  /** Size of an open file (bytes). */
  fstatSize(fd: number): Promise<number>;
  /** Mode of an open file: its type and permission bits (`st_mode`). */
  fstatMode(fd: number): Promise<number>;
  /** Set an open file's permission bits. */
  fchmod(fd: number, mode: number): Promise<void>;
  /** The user id owning an open file (`st_uid`). */
  fstatOwner(fd: number): Promise<number>;
  /** fsync a directory, so entries created or renamed in it survive a crash. */
  syncDir(path: string): Promise<void>;
  /** `mkdir -p` with `mode`; resolves with the directories it created, outermost first. */
  mkdirp(path: string, mode: number): Promise<string[]>;
  /** The names in a directory; `[]` when it does not exist. */
  readdir(path: string): Promise<string[]>;
  /** Size (bytes) and modification time (ms since the epoch) of `path`; `null` when it does not exist. */
  stat(path: string): Promise<{ size: number; mtimeMs: number } | null>;
  /** Rename `from` to `to`, replacing `to` atomically when it exists. */
  rename(from: string, to: string): Promise<void>;
  /** Remove a file. */
  unlink(path: string): Promise<void>;
  /** Whether `path` exists (any error checking it counts as no). */
  exists(path: string): Promise<boolean>;
  /** A small file's whole text (UTF-8). */
  readText(path: string): Promise<string>;
  /**
   * Replace a small file atomically: write a temporary file beside it, rename it over `path`.
   * With `durable` (default), the file is fsynced before the rename and the directory after it,
   * so even a power loss leaves the old or the new file; without, only a process crash does.
   */
  writeFileAtomic(path: string, text: string, mode: number, durable?: boolean): Promise<void>;
  /** The inode number of `path`. */
  statIno(path: string): Promise<number>;
  /** The inode number of an open descriptor. */
  fstatIno(fd: number): Promise<number>;
  /** Set a file's access and modification times to now. */
  touch(path: string): Promise<void>;
}

const done =
  <T>(resolve: (v: T) => void, reject: (e: unknown) => void) =>
  (err: NodeJS.ErrnoException | null, value?: T) =>
    err ? reject(err) : resolve(value as T);

function writeAll(fd: number, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    let offset = 0;
    const step = (): void => {
      fs.write(fd, data, offset, data.length - offset, null, (err, written) => {
        if (err) return reject(err);
        offset += written;
        if (offset < data.length) step();
        else resolve();
      });
    };
    step();
  });
}

/** The real file system. */
export const nodeFileSystem: FileSystem = {
  open: (path, flags, mode) => new Promise((res, rej) => fs.open(path, flags, mode ?? 0o600, done(res, rej))),
  close: (fd) => new Promise((res, rej) => fs.close(fd, done(res, rej))),
  writeAll,
  read: (fd, buffer, offset, length, position) =>
    new Promise((res, rej) => fs.read(fd, buffer, offset, length, position, done(res, rej))),
  fdatasync: (fd) => new Promise((res, rej) => fs.fdatasync(fd, done(res, rej))),
  fsync: (fd) => new Promise((res, rej) => fs.fsync(fd, done(res, rej))),
  ftruncate: (fd, length) => new Promise((res, rej) => fs.ftruncate(fd, length, done(res, rej))),
  fstatSize: (fd) =>
    new Promise((res, rej) => fs.fstat(fd, (err, st) => (err ? rej(err) : res(st.size)))),
  fstatMode: (fd) => new Promise((res, rej) => fs.fstat(fd, (err, st) => (err ? rej(err) : res(st.mode)))),
  fchmod: (fd, mode) => new Promise((res, rej) => fs.fchmod(fd, mode, done(res, rej))),
  fstatOwner: (fd) => new Promise((res, rej) => fs.fstat(fd, (err, st) => (err ? rej(err) : res(st.uid)))),
  syncDir: (path) =>
    new Promise((res, rej) =>
      fs.open(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY, (err, fd) => {
        if (err) return rej(err);
        fs.fsync(fd, (syncErr) => fs.close(fd, () => (syncErr ? rej(syncErr) : res())));
      }),
    ),
  mkdirp: async (path, mode) => {
    const created: string[] = [];
    const first = await fs.promises.mkdir(path, { recursive: true, mode });
    if (first !== undefined) {
      // `first` is the outermost directory created; list it and every one below it.
      for (let dir = path; ; dir = dirname(dir)) {
        created.unshift(dir);
        if (dir === first || dirname(dir) === dir) break;
      }
    }
    return created;
  },
  readdir: async (path) => {
    try {
      return await fs.promises.readdir(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  },
  stat: async (path) => {
    try {
      const st = await fs.promises.stat(path);
      return { size: st.size, mtimeMs: st.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  exists: async (path) => {
    try {
      await fs.promises.access(path);
      return true;
    } catch {
      return false;
    }
  },
  readText: (path) => fs.promises.readFile(path, 'utf8'),
  writeFileAtomic: async (path, text, mode, durable = true) => {
    const temp = `${path}.${process.pid}.${Date.now().toString(36)}.tmp`;
    const handle = await fs.promises.open(temp, 'w', mode);
    try {
      await handle.writeFile(text, 'utf8');
      if (durable) await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.promises.rename(temp, path);
    } catch (err) {
      await fs.promises.unlink(temp).catch(() => {});
      throw err;
    }
    if (durable) await nodeFileSystem.syncDir(dirname(path));
  },
  statIno: async (path) => (await fs.promises.stat(path)).ino,
  fstatIno: (fd) => new Promise((res, rej) => fs.fstat(fd, (err, st) => (err ? rej(err) : res(st.ino)))),
  touch: async (path) => {
    const now = new Date();
    await fs.promises.utimes(path, now, now);
  },
};

/** Flags for creating a new log: fails if it exists. */
export const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND;
/** Flags for appending to an existing log (read access for the tail check). */
export const APPEND_FLAGS = fs.constants.O_RDWR | fs.constants.O_APPEND;
/** Flags for creating a small file that must not exist yet. */
export const EXCLUSIVE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;
/** Flags for appending to a side file, creating it if needed. */
export const SIDE_FILE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND;
/** Flags for appending to a file that may not exist yet, creating it (read access for the tail check). */
export const APPEND_OR_CREATE_FLAGS = fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT;
/** Flags for writing a file from its start, creating it or emptying it. */
export const REPLACE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC;
/** Flags for reading. */
export const READ_FLAGS = fs.constants.O_RDONLY;
/** Flags for opening a directory itself (to check and set its mode); fails on anything else. */
export const DIRECTORY_FLAGS = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY;

/** The errno code of an error (`ENOENT`…), if it has one. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** An error's message for another message, led by its errno code when the message lacks it (`EIO: …`). */
export function describeError(err: unknown): string {
  const code = errnoOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
