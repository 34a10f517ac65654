/**
 * Write leases: one writer per conversation across processes (SPEC §5).
 *
 * A lease is a small file `<home>/leases/<id>.lease` holding `{ pid, host, token, since }`.
 * Taking it is a read-modify-write done under a short mutual-exclusion lock
 * (`proper-lockfile`, a lock directory next to the lease). A live holder makes the taker fail
 * with `SessionLockedError` naming it; a holder that is gone (its process is dead, or, on
 * another host, it stopped refreshing the lease) is taken over. Every taker gets the next
 * fencing token, and a released lease keeps its token so tokens only grow.
 *
 * Fencing: before every append the writer checks that the lease file is still the one it
 * wrote (same inode, or same token), so a writer that lost its lease (paused past expiry,
 * then resumed) cannot append — the check fails with `LeaseLostError` first. Codex added a
 * per-process writer check only; two processes could write one rollout (openai/codex#33241).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { LeaseLostError, SessionLockedError, type LeaseHolder } from '../errors.js';

export { LeaseLostError } from '../errors.js';
import { assertConversationId } from '../protocol/ids.js';
import { EXCLUSIVE_FLAGS, type FileSystem } from './fs.js';
import { DIR_MODE, FILE_MODE, LEASES_DIR } from './paths.js';

/** What a lease file holds. `token` is the fencing token; `released` once its holder let go. */
export interface LeaseRecord extends LeaseHolder {
  readonly token: number;
  readonly released?: boolean;
}

/** A lease this process holds. */
export interface Lease {
  readonly id: string;
  readonly token: number;
  readonly path: string;
  /** The inode of the lease file this process wrote. */
  ino: number;
}

/** Options of a conversation's write lease: how long (ms) a holder on another host may be silent before its lease is taken over, and how often to try the lock. */
export interface LeaseOptions {
  /** A holder on another host that has not refreshed its lease for this long is gone (ms). Default 30,000. */
  readonly staleMs?: number;
  /** Tries to take the mutual-exclusion lock before giving up. Default 40 (about 3.5 s, past a dead holder's 2 s). */
  readonly lockRetries?: number;
}

/** Lease files created or released at once at most (each holds file descriptors while it runs). */
const MAX_CONCURRENT_FILE_OPS = 64;

/** Leases held in this process, by lease path: two stores of one home in one process exclude each other too. */
const heldHere = new Map<string, LeaseManager>();

/** Whether a process with this pid exists on this host. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The leases of a store rooted at `home`. */
export class LeaseManager {
  readonly #dir: string;
  readonly #fs: FileSystem;
  readonly #staleMs: number;
  readonly #retries: number;
  readonly #host = hostname();
  readonly #held = new Map<string, Lease>();
  /** Leases this process lost to another writer (and who took them, when known), until it takes them again with `acquire`. */
  readonly #lost = new Map<string, LeaseHolder | null>();
  /** Releases under way (awaited by `releaseAll`, so a process never exits in the middle of one). */
  readonly #releasing = new Set<Promise<void>>();
  #heartbeat: NodeJS.Timeout | null = null;
  /** Lease creations and releases running now, and those waiting for a turn. */
  #fileOpsRunning = 0;
  readonly #fileOpsWaiting: (() => void)[] = [];

  constructor(home: string, fs: FileSystem, options: LeaseOptions = {}) {
    this.#dir = join(home, LEASES_DIR);
    this.#fs = fs;
    this.#staleMs = options.staleMs ?? 30_000;
    this.#retries = options.lockRetries ?? 40;
  }

  /** The lease file of a conversation. */
  path(id: string): string {
    return join(this.#dir, `${assertConversationId(id)}.lease`);
  }

  /** The lease this process holds for `id`, if any. */
  held(id: string): Lease | undefined {
    return this.#held.get(id);
  }

  /**
   * Whether this process lost `id`'s lease to another writer (see `verify`) and has not taken it
   * again: its appends must keep failing with `LeaseLostError`, never take the lease back unasked.
   * @throws {LeaseLostError} when it did.
   */
  assertNotLost(id: string): void {
    if (this.#lost.has(id)) throw new LeaseLostError(id, this.#lost.get(id) ?? null);
  }

  async #read(path: string): Promise<LeaseRecord | null> {
    const st = await this.#fs.stat(path);
    if (!st) return null;
    try {
      const text = await this.#fs.readText(path);
      const value = JSON.parse(text) as LeaseRecord;
      return typeof value.token === 'number' && typeof value.pid === 'number' ? value : null;
    } catch {
      return null;
    }
  }

  /** Whether the holder of `record` still holds it. */
  async #live(record: LeaseRecord, path: string): Promise<boolean> {
    if (record.released) return false;
    if (record.host === this.#host) return record.pid === process.pid ? heldHere.has(path) : alive(record.pid);
    const st = await this.#fs.stat(path);
    return st !== null && Date.now() - st.mtimeMs < this.#staleMs;
  }

  /** Run `fn` holding the mutual-exclusion lock of a lease file. */
  async #exclusive<T>(path: string, fn: () => Promise<T>): Promise<T> {
    await this.#fs.mkdirp(this.#dir, DIR_MODE);
    const release = await lockfile.lock(path, {
      realpath: false,
      // Held for a few file operations: one older than 2 s (the library's minimum) was left by a dead process.
      stale: 2_000,
      retries: { retries: this.#retries, minTimeout: 20, maxTimeout: 100, factor: 1.5 },
      // The library's default throws from a timer (an uncaught exception). The lock guards a
      // few file operations only; losing it midway is caught by the token check of `verify`.
      onCompromised: () => {},
    });
    try {
      return await fn();
    } finally {
      await release().catch(() => {});
    }
  }

  /**
   * Take the write lease of conversation `id` (idempotent in this process).
   * @throws {SessionLockedError} naming the holder when another live writer has it.
   */
  async acquire(id: string): Promise<Lease> {
    const mine = this.#held.get(id);
    if (mine) return mine;
    const path = this.path(id);
    // A conversation never leased before (a new one): creating its lease file is the lease.
    const fresh = await this.#bounded(() => this.#create(id, path));
    if (fresh) {
      this.#held.set(id, fresh);
      this.#lost.delete(id);
      heldHere.set(path, this);
      this.#startHeartbeat();
      return fresh;
    }
    const lease = await this.#exclusive(path, async () => {
      const current = await this.#read(path);
      if (current && (await this.#live(current, path))) {
        throw new SessionLockedError(id, { pid: current.pid, host: current.host, since: current.since });
      }
      const record: LeaseRecord = { pid: process.pid, host: this.#host, since: new Date().toISOString(), token: (current?.token ?? 0) + 1 };
      // Not fsynced: after a power loss every holder is gone, and a lost or empty lease is a free one.
      await this.#fs.writeFileAtomic(path, `${JSON.stringify(record)}\n`, FILE_MODE, false);
      const st = await this.#fs.statIno(path);
      return { id, token: record.token, path, ino: st };
    });
    this.#held.set(id, lease);
    this.#lost.delete(id);
    heldHere.set(path, this);
    this.#startHeartbeat();
    return lease;
  }

  /** Take a lease by creating its file (token 1); null when it exists already. */
  async #create(id: string, path: string): Promise<Lease | null> {
    let fd: number;
    try {
      fd = await this.#openExclusive(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return null;
      throw err;
    }
    try {
      const record: LeaseRecord = { pid: process.pid, host: this.#host, since: new Date().toISOString(), token: 1 };
      await this.#fs.writeAll(fd, Buffer.from(`${JSON.stringify(record)}\n`));
      return { id, token: 1, path, ino: await this.#fs.fstatIno(fd) };
    } finally {
      await this.#fs.close(fd).catch(() => {});
    }
  }

  /** Create a lease file; its directory is made only when missing (not once per lease). */
  async #openExclusive(path: string): Promise<number> {
    try {
      return await this.#fs.open(path, EXCLUSIVE_FLAGS, FILE_MODE);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.#fs.mkdirp(this.#dir, DIR_MODE);
      return await this.#fs.open(path, EXCLUSIVE_FLAGS, FILE_MODE);
    }
  }

  /**
   * Check, just before an append, that this process still holds the lease. A lease found lost
   * stays lost for appends (see `assertNotLost`) until `acquire` takes it again.
   * @throws {LeaseLostError} when another writer took it over.
   */
  async verify(id: string): Promise<void> {
    const lease = this.#held.get(id);
    if (!lease) throw new LeaseLostError(id, null);
    const ino = await this.#fs.statIno(lease.path).catch(() => -1);
    if (ino === lease.ino) return;
    const current = await this.#read(lease.path);
    if (current && current.token === lease.token && current.pid === process.pid) {
      lease.ino = ino;
      return;
    }
    this.#held.delete(id);
    if (heldHere.get(lease.path) === this) heldHere.delete(lease.path);
    const holder = current ? { pid: current.pid, host: current.host, since: current.since } : null;
    this.#lost.set(id, holder);
    throw new LeaseLostError(id, holder);
  }

  /** Give the lease up (keeping its token, so the next holder's is higher). */
  async release(id: string): Promise<void> {
    const lease = this.#held.get(id);
    if (!lease) return;
    this.#held.delete(id);
    if (this.#held.size === 0) this.#stopHeartbeat();
    const releasing = this.#bounded(() =>
      this.#exclusive(lease.path, async () => {
        const current = await this.#read(lease.path);
        if (!current || current.token !== lease.token) return;
        await this.#fs.writeFileAtomic(lease.path, `${JSON.stringify({ ...current, released: true })}\n`, FILE_MODE, false);
      }),
    )
      .catch(() => {})
      .finally(() => {
        if (heldHere.get(lease.path) === this) heldHere.delete(lease.path);
        this.#releasing.delete(releasing);
      });
    this.#releasing.add(releasing);
    await releasing;
  }

  /** Forget a conversation's lease file (the conversation was deleted). */
  async remove(id: string): Promise<void> {
    const lease = this.#held.get(id);
    if (lease && heldHere.get(lease.path) === this) heldHere.delete(lease.path);
    this.#held.delete(id);
    this.#lost.delete(id);
    await this.#fs.unlink(this.path(id)).catch(() => {});
  }

  /** Release every lease. */
  /**
   * Run a lease creation or release when fewer than `MAX_CONCURRENT_FILE_OPS` run: starting
   * or shutting down tens of thousands of conversations at once would otherwise run out of
   * file descriptors.
   */
  async #bounded<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#fileOpsRunning >= MAX_CONCURRENT_FILE_OPS) await new Promise<void>((resolve) => this.#fileOpsWaiting.push(resolve));
    this.#fileOpsRunning++;
    try {
      return await fn();
    } finally {
      this.#fileOpsRunning--;
      this.#fileOpsWaiting.shift()?.();
    }
  }

  /** Give up every lease this process holds and stop refreshing them; waits for releases under way. */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#held.keys()].map((id) => this.release(id)));
    await Promise.all([...this.#releasing]);
    this.#stopHeartbeat();
  }

  /** Refresh held leases' times, so holders on other hosts can tell this one is alive. */
  #startHeartbeat(): void {
    if (this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      for (const lease of this.#held.values()) void this.#fs.touch(lease.path).catch(() => {});
    }, Math.max(1_000, Math.floor(this.#staleMs / 3)));
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
  }
}
