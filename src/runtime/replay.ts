/**
 * Replay: rebuild a conversation from its log by folding its records. A fork's log starts
 * with a `session_meta` naming its source and the last source `seq` it includes; replay
 * folds the source up to there first (recursively, for forks of forks), then the fork's own
 * records. Nothing is copied between logs.
 */
import { CorruptLogError } from '../errors.js';
import type { ReadMode, Store, LogIssue } from '../store/store.js';
import { ConversationFold } from './fold.js';

/** Forks of forks are followed this deep at most (a cycle would be a corrupt store). */
export const MAX_FORK_DEPTH = 64;

export interface ReplayOptions {
  /** Keep every turn's items (for `read`). */
  readonly transcript?: boolean;
  /** Stop after this `seq`. */
  readonly upToSeq?: number;
  readonly mode?: ReadMode;
  readonly onIssue?: (issue: LogIssue) => void;
}

/**
 * Fold the log of conversation `id` (and of the conversations it was forked from).
 * @throws {SessionNotFoundError} when it (or a source) does not exist.
 * @throws {CorruptLogError} for a bad line (strict mode) or a broken fork reference.
 */
export async function replay(store: Store, id: string, options: ReplayOptions = {}): Promise<ConversationFold> {
  const fold = new ConversationFold({ transcript: options.transcript ?? false });
  await replayInto(store, id, options, fold, 0);
  if (!fold.meta) throw new CorruptLogError(id, 1, 'the log has no session_meta');
  return fold;
}

async function replayInto(store: Store, id: string, options: ReplayOptions, fold: ConversationFold, depth: number): Promise<void> {
  let first = true;
  const read = {
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
    ...(options.onIssue !== undefined ? { onIssue: options.onIssue } : {}),
    ...(options.upToSeq !== undefined ? { upToSeq: options.upToSeq } : {}),
  };
  for await (const record of store.read(id, read)) {
    if (first) {
      first = false;
      const origin = record.type === 'session_meta' ? record.payload.forked_from : undefined;
      if (origin) {
        if (depth >= MAX_FORK_DEPTH) throw new CorruptLogError(id, 1, `forks nest deeper than ${MAX_FORK_DEPTH}`);
        if (record.seq !== origin.up_to_seq + 1) {
          throw new CorruptLogError(id, 1, `a fork must start at seq ${origin.up_to_seq + 1}, not ${record.seq}`);
        }
        await replayInto(store, origin.id, { ...options, upToSeq: origin.up_to_seq }, fold, depth + 1);
        if (fold.nextSeq !== record.seq) {
          throw new CorruptLogError(id, 1, `its source ${origin.id} ends at seq ${fold.nextSeq - 1}, before ${origin.up_to_seq}`);
        }
      }
    }
    fold.apply(record);
  }
}
