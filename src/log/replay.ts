/**
 * Replay: rebuild a conversation from its log by folding its records.
 *
 * A resume starts at the last compaction: the `compacted` record is found from the end of the
 * log (without reading the rest), and only the records from where its kept history starts are
 * folded — the record itself carries the state from before (turn count, usage, settings). So a
 * resume reads, and holds in memory, the live context, not the whole file.
 *
 * A fork's log starts with a `session_meta` naming its source and the last source `seq` it
 * keeps; replay folds the source up to there first (recursively, for forks of forks), then
 * the fork's own records. Nothing is copied between logs.
 */
import { CorruptLogError } from '../errors.js';
import type { LogRecord } from '../protocol/records.js';
import type { LogIssue, LogSource, ReadMode, ReadOptions } from './types.js';
import { ConversationFold } from './fold.js';

/** Forks of forks are followed this deep at most (a cycle would be a corrupt store). */
export const MAX_FORK_DEPTH = 64;

/** Options of `replay`: where to stop (`upToSeq`), the read mode, and callbacks for issues and records. */
export interface ReplayOptions {
  /** Fold every record and keep every turn's items (for `read`), not only the live context. */
  readonly transcript?: boolean;
  /** Stop after this `seq`. */
  readonly upToSeq?: number;
  readonly mode?: ReadMode;
  readonly onIssue?: (issue: LogIssue) => void;
  /**
   * Called with every record folded, in order, after the fold applied it: for callers that keep
   * state of their own from records the fold ignores (e.g. `opaque` records an adapter wrote).
   */
  readonly onRecord?: (record: LogRecord) => void;
  /** Stop right after the first record for which this holds (the fold then ends there). */
  readonly until?: (record: LogRecord, fold: ConversationFold) => boolean;
}

/** Thrown inside a replay to stop it once `until` holds (control flow, never seen outside). */
const STOP: unique symbol = Symbol('replay stop');

/**
 * Fold the log of conversation `id` (and of the conversations it was forked from).
 * @throws {SessionNotFoundError} when it (or a source) does not exist.
 * @throws {CorruptLogError} for a bad line (strict mode) or a broken fork reference.
 */
export async function replay(store: LogSource, id: string, options: ReplayOptions = {}): Promise<ConversationFold> {
  const fold = new ConversationFold({ transcript: options.transcript ?? false });
  const until = options.until;
  const stepOptions: ReplayOptions = until
    ? {
        ...options,
        onRecord: (record) => {
          options.onRecord?.(record);
          if (until(record, fold)) throw STOP;
        },
      }
    : options;
  try {
    await foldRange(store, id, options.upToSeq ?? Infinity, stepOptions, fold, 0, options.transcript ? 0 : undefined);
  } catch (err) {
    if (err !== STOP) throw err;
  }
  if (!fold.meta) throw new CorruptLogError(id, 1, 'the log has no session_meta');
  return fold;
}

function readOptions(options: ReplayOptions, upTo: number, from?: number): ReadOptions {
  return {
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
    ...(options.onIssue !== undefined ? { onIssue: options.onIssue } : {}),
    ...(upTo !== Infinity ? { upToSeq: upTo } : {}),
    ...(from !== undefined ? { fromSeq: from } : {}),
  };
}

/**
 * Fold conversation `id` up to `upTo`, from `from` (a `seq`), or — when `from` is undefined —
 * from where its last compaction lets a replay start.
 */
async function foldRange(
  store: LogSource,
  id: string,
  upTo: number,
  options: ReplayOptions,
  fold: ConversationFold,
  depth: number,
  from: number | undefined,
): Promise<void> {
  if (depth > MAX_FORK_DEPTH) throw new CorruptLogError(id, 1, `forks nest deeper than ${MAX_FORK_DEPTH}`);
  const head = await store.head(id);
  if (head.type !== 'session_meta') throw new CorruptLogError(id, 1, 'the first record is not session_meta');
  let start = from;
  if (start === undefined) {
    const checkpoint = await store.lastRecordOf(id, 'compacted', upTo === Infinity ? {} : { upToSeq: upTo });
    if (checkpoint?.type === 'compacted') start = checkpoint.payload.from_seq ?? checkpoint.payload.kept_from_seq;
  }
  if (start !== undefined && start > head.seq) {
    // Start inside this log: its header, then its records from `start`.
    fold.apply(head);
    options.onRecord?.(head);
    for await (const record of store.read(id, readOptions(options, upTo, start))) {
      if (record.seq < start) continue;
      fold.apply(record);
      options.onRecord?.(record);
    }
    return;
  }
  const origin = head.payload.forked_from;
  if (origin) {
    if (head.seq !== origin.up_to_seq + 1) {
      throw new CorruptLogError(id, 1, `a fork must start at seq ${origin.up_to_seq + 1}, not ${head.seq}`);
    }
    // Stopping before this log's own records: only (part of) the source is folded.
    if (upTo < head.seq) {
      await foldRange(store, origin.id, upTo, options, fold, depth + 1, start);
      return;
    }
    await foldRange(store, origin.id, origin.up_to_seq, options, fold, depth + 1, start);
    if (fold.nextSeq !== head.seq) {
      throw new CorruptLogError(id, 1, `its source ${origin.id} ends at seq ${fold.nextSeq - 1}, before ${origin.up_to_seq}`);
    }
  }
  for await (const record of store.read(id, readOptions(options, upTo))) {
    fold.apply(record as LogRecord);
    options.onRecord?.(record as LogRecord);
  }
}
