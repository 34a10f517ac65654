/**
 * What the message history reports besides clean reads and writes (`HistoryIssue`), and
 * where those reports go when no listener is given (`warnHistoryIssue`).
 */

/**
 * Something found or done that is not a clean read or write. `offset` is the byte offset of
 * the line concerned (0-based; the file size for a trim). `detail` never quotes content.
 * - `torn_tail`: the last line has no newline (a crash mid-write, or an append in progress);
 *   skipped by reads; the next append starts a new line after it.
 * - `bad_line`: a line that is not an entry; skipped.
 * - `trim_failed`: a trim after an append failed; the old file is intact and the appended
 *   entries are in it; the next append tries again.
 * - `lock_compromised`: the lock was taken over while held (this process stalled past the
 *   stale time); a trim in progress is abandoned.
 * - `write_failed`: the messages of a store's commit could not be written (the lock stayed
 *   taken, the disk is full); the commit's records are durable, these messages are not recalled.
 */
export interface HistoryIssue {
  readonly kind: 'torn_tail' | 'bad_line' | 'trim_failed' | 'lock_compromised' | 'write_failed';
  /** The history file. */
  readonly path: string;
  /** Byte offset of the line concerned (0-based), or the file size for a trim; 0 when none applies. */
  readonly offset: number;
  /** What happened, in words that never quote the file's content. */
  readonly detail: string;
}

/** Where a history's issues go. Never throws into the history: a listener's error is its own. */
export type HistoryIssueListener = (issue: HistoryIssue) => void;

/**
 * The default listener: `trim_failed`, `lock_compromised` and `write_failed` become process
 * warnings (code `COLLOQUY`); torn and bad lines, skipped by reads, are not reported.
 */
export function warnHistoryIssue(issue: HistoryIssue): void {
  if (issue.kind === 'trim_failed' || issue.kind === 'lock_compromised' || issue.kind === 'write_failed') {
    process.emitWarning(`${issue.path}: ${issue.kind}: ${issue.detail}`, { code: 'COLLOQUY' });
  }
}
