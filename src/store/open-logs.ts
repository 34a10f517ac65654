/**
 * The file store's cache of logs open for appending: at most `maxOpenFiles` descriptors, the
 * least recently used closed beyond that (never one in use by an append); out of descriptors
 * (EMFILE), half the idle logs are closed and the open is tried once more. Logs written with
 * durability `batched` are fdatasynced by a timer; a failure there is kept for the next commit
 * to report.
 */
import type PQueue from 'p-queue';
import { StoreError } from '../errors.js';
import { describeError, type FileSystem } from './fs.js';
import { FILE_MODE } from './paths.js';

/** A log open for appending. */
export interface OpenLog {
  readonly id: string;
  fd: number;
  path: string;
  archived: boolean;
  /** Bytes in the log after the last successful append. */
  size: number;
  /** The `seq` the next record must have. */
  nextSeq: number;
  /** In use by a running append; never closed while > 0. */
  busy: number;
  /** Written but not yet fsynced (durability `batched`). */
  dirty: boolean;
  /** A background fsync failed: reported by the next commit. */
  failure: Error | null;
  /**
   * Where a log being created goes once its header is written: until then `path` is in the
   * `.creating` directory (see `CREATING_DIR`).
   */
  target?: string;
}

/** The open logs of a file store, by conversation id; `Map` order is recency order. */
export class OpenLogs {
  readonly #fs: FileSystem;
  readonly #maxOpen: number;
  readonly #queue: PQueue;
  readonly #logs = new Map<string, OpenLog>();
  #fsyncTimer: NodeJS.Timeout | null = null;

  /**
   * @param maxOpen logs kept open at once (the least recently used beyond it are closed).
   * @param queue the store's I/O queue, which background fsyncs join.
   */
  constructor(fs: FileSystem, maxOpen: number, queue: PQueue) {
    this.#fs = fs;
    this.#maxOpen = maxOpen;
    this.#queue = queue;
  }

  /** The open logs by id, live (read-only: change them through this cache). */
  get byId(): ReadonlyMap<string, OpenLog> {
    return this.#logs;
  }

  /** Add a log just opened, as the most recently used. */
  add(log: OpenLog): void {
    this.#logs.set(log.id, log);
  }

  /** Mark a log as the most recently used. */
  touch(log: OpenLog): void {
    // Map order is recency order: move to the end.
    this.#logs.delete(log.id);
    this.#logs.set(log.id, log);
  }

  /** Close the least recently used idle logs beyond the limit (in the background). */
  evict(): void {
    if (this.#logs.size <= this.#maxOpen) return;
    for (const log of this.#logs.values()) {
      if (this.#logs.size <= this.#maxOpen) break;
      if (log.busy > 0) continue;
      this.#logs.delete(log.id);
      void this.#close(log);
    }
  }

  /**
   * Open a log for writing (a created one gets mode 0600); out of file descriptors (EMFILE),
   * close half the idle logs and try once more. Resolves with the descriptor.
   * @throws the open's error (errno), also the second EMFILE.
   */
  async openFd(path: string, flags: number): Promise<number> {
    try {
      return await this.#fs.open(path, flags, FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException | null)?.code !== 'EMFILE' || this.#logs.size === 0) throw err;
      const closing: Promise<void>[] = [];
      let excess = Math.ceil(this.#logs.size / 2);
      for (const log of this.#logs.values()) {
        if (excess === 0) break;
        if (log.busy > 0) continue;
        this.#logs.delete(log.id);
        closing.push(this.#close(log));
        excess--;
      }
      await Promise.all(closing);
      return await this.#fs.open(path, flags, FILE_MODE);
    }
  }

  /** Record that a log was moved to `path` (archived or back). */
  moved(id: string, path: string, archived: boolean): void {
    const log = this.#logs.get(id);
    if (log) {
      log.path = path;
      log.archived = archived;
    }
  }

  /**
   * Close and forget a log after a failure, so the next append re-checks it (unsynced data is
   * not fsynced); with `remove`, also delete it (one just created, holding nothing acknowledged).
   * Never rejects.
   */
  async discard(id: string, remove = false): Promise<void> {
    const log = this.#logs.get(id);
    if (!log) return;
    this.#logs.delete(id);
    await this.#fs.close(log.fd).catch(() => {});
    if (remove) await this.#fs.unlink(log.path).catch(() => {});
  }

  /** Close a log unless an append is using it (fdatasyncing it first if dirty). Never rejects. */
  async release(id: string): Promise<void> {
    const log = this.#logs.get(id);
    if (log && log.busy === 0) {
      this.#logs.delete(id);
      await this.#close(log);
    }
  }

  /** fdatasync the dirty logs in `intervalMs` (ms), unless a timer is already set. The timer does not keep the process alive. */
  scheduleFsync(intervalMs: number): void {
    if (this.#fsyncTimer) return;
    this.#fsyncTimer = setTimeout(() => {
      this.#fsyncTimer = null;
      void this.#fsyncDirty();
    }, intervalMs);
    this.#fsyncTimer.unref();
  }

  /** Stop the fsync timer, wait for the I/O queue to drain, then close every log (fdatasyncing dirty ones). Never rejects. */
  async closeAll(): Promise<void> {
    if (this.#fsyncTimer) clearTimeout(this.#fsyncTimer);
    this.#fsyncTimer = null;
    await this.#queue.onIdle();
    const logs = [...this.#logs.values()];
    this.#logs.clear();
    await Promise.all(logs.map((log) => this.#close(log)));
  }

  async #close(log: OpenLog): Promise<void> {
    if (log.dirty) {
      log.dirty = false;
      await this.#fs.fdatasync(log.fd).catch(() => {});
    }
    await this.#fs.close(log.fd).catch(() => {});
  }

  async #fsyncDirty(): Promise<void> {
    const dirty = [...this.#logs.values()].filter((log) => log.dirty);
    await Promise.all(
      dirty.map((log) =>
        this.#queue.add(async () => {
          log.dirty = false;
          try {
            await this.#fs.fdatasync(log.fd);
          } catch (err) {
            log.failure = new StoreError(`${log.path}: background fsync failed: ${describeError(err)}`, { path: log.path, cause: err });
          }
        }),
      ),
    );
  }
}
