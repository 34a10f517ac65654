/**
 * The message history's advisory lock, shared by every process that writes the file: a lock
 * directory `history.jsonl.lock` (`proper-lockfile`), taken with bounded retries for one write
 * or one trim, refreshed while held, and taken over once a crashed holder left it stale.
 */
import lockfile from 'proper-lockfile';
import { ColloquyError, StoreError } from '../errors.js';
import { describeError, errnoOf } from './fs.js';
import type { HistoryIssueListener } from './history-issues.js';

/**
 * Tries to take the lock before giving up: Codex's 10 × 100 ms, extended to outlast a lock
 * left by a process that was killed while holding it (stale after `HISTORY_LOCK_STALE_MS`).
 */
export const HISTORY_LOCK_ATTEMPTS = 25;
/** Wait between two tries to take the lock (ms), as Codex's `RETRY_SLEEP`. */
export const HISTORY_LOCK_RETRY_MS = 100;
/**
 * A lock directory not refreshed for this long is left over from a crash and is taken over
 * (ms; `proper-lockfile`'s minimum). The lock is held for one write or one trim.
 */
export const HISTORY_LOCK_STALE_MS = 2_000;

/**
 * The history's lock could not be taken: another process held it through every try
 * (`attempts` tries, `retryMs` apart). Nothing was written; the entries may be appended again.
 * Its `code` is `history_locked`.
 */
export class HistoryLockedError extends ColloquyError {
  /** The history file. */
  readonly path: string;
  /** The lock directory. */
  readonly lockPath: string;
  /** Tries made. */
  readonly attempts: number;
  /**
   * @param retryMs the wait between tries (ms), for the message.
   * @param staleMs after how long a crashed holder's lock is taken over (ms), for the message.
   */
  constructor(path: string, lockPath: string, attempts: number, retryMs: number, staleMs: number) {
    super(
      'history_locked',
      `could not lock the message history ${path}: another process held ${lockPath} through ${attempts} tries ${retryMs} ms apart; ` +
        `try again, or, if no other Colloquy process is running, the lock is left over from a crash and is taken over ${Math.round(staleMs / 1000)} s after its holder stopped (or remove ${lockPath})`,
    );
    this.path = path;
    this.lockPath = lockPath;
    this.attempts = attempts;
  }
}

/** How the lock is taken: `attempts` tries `retryMs` apart (ms); a lock not refreshed for `staleMs` (ms, ≥ 2,000) is taken over. */
export interface HistoryLockSettings {
  readonly attempts: number;
  readonly retryMs: number;
  readonly staleMs: number;
}

/** A lock held by this process. */
export interface HeldLock {
  /** Give the lock up (rejects if it was lost meanwhile). */
  release: () => Promise<void>;
  /** Why the lock was taken over while held (this process stalled past the stale time), or `null`. */
  compromised: Error | null;
}

/**
 * Take the lock of the history file `path` (the directory `lockPath`). A takeover while held
 * is reported to `onIssue` (`lock_compromised`) and recorded in the held lock.
 * @throws {HistoryLockedError} when another process held it through every try.
 * @throws {StoreError} when the lock cannot be taken for another reason (the directory is not writable…).
 */
export async function lockHistory(path: string, lockPath: string, settings: HistoryLockSettings, onIssue: HistoryIssueListener): Promise<HeldLock> {
  const held: HeldLock = { release: async () => {}, compromised: null };
  try {
    held.release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: lockPath,
      stale: settings.staleMs,
      retries: { retries: settings.attempts - 1, minTimeout: settings.retryMs, maxTimeout: settings.retryMs, factor: 1 },
      onCompromised: (err) => {
        held.compromised = err;
        onIssue({ kind: 'lock_compromised', path, offset: 0, detail: err.message });
      },
    });
  } catch (err) {
    if (errnoOf(err) === 'ELOCKED') throw new HistoryLockedError(path, lockPath, settings.attempts, settings.retryMs, settings.staleMs);
    throw new StoreError(`could not lock the message history ${path}: ${describeError(err)}`, { path, cause: err });
  }
  return held;
}
