/**
 * Planning a fork: where to cut the source's log and what the fork starts from. The fork's log
 * references the source and the last source `seq` it keeps (nothing is copied); its state is
 * the source's fold up to the cut.
 */
import type { ConversationSeed } from '../../machines/shard.machine.js';
import { InvalidOpError } from '../errors.js';
import type { ConversationFold } from '../log/fold.js';
import { replay } from '../log/replay.js';
import type { LogSource, ReadMode } from '../log/types.js';
import { idTime, newConversationId } from '../protocol/ids.js';
import { LOG_FORMAT_VERSION, type SessionMetaPayload } from '../protocol/records.js';
import type { ForkOptions } from './options.js';

/** A fork about to be made: its id, what its actor is spawned from, and its fold (its history). */
export interface ForkPlan {
  readonly id: string;
  readonly seed: ConversationSeed;
  readonly fold: ConversationFold;
}

/**
 * Plan a fork of conversation `sourceId`: up to the last finished turn, or before its
 * `beforeUserTurn`-th user turn.
 * @throws {InvalidOpError} when `beforeUserTurn` is beyond the last turn + 1.
 * @throws {SessionNotFoundError} when the source does not exist; {@link CorruptLogError} for a bad log.
 */
export async function planFork(store: LogSource, sourceId: string, options: ForkOptions, read: { mode?: ReadMode }): Promise<ForkPlan> {
  let source: ConversationFold;
  let cut: number; // first seq NOT kept
  if (options.beforeUserTurn !== undefined) {
    // Counting user turns needs every turn from the start: a replay with the transcript, up to
    // the start of the n-th user turn (or to the end, when there is none).
    const n = options.beforeUserTurn;
    let seen = 0;
    source = await replay(store, sourceId, {
      ...read,
      transcript: true,
      until: (r) => r.type === 'event' && r.payload.type === 'turn.started' && r.payload.kind === 'regular' && ++seen === n,
    });
    const userTurns = source.transcript.filter((t) => t.kind === 'regular');
    if (n > userTurns.length + 1) {
      throw new InvalidOpError(
        [{ path: ['beforeUserTurn'], message: `the conversation has ${userTurns.length} user turn${userTurns.length === 1 ? '' : 's'}; use 1 to ${userTurns.length + 1}` }],
        'fork options',
      );
    }
    cut = userTurns[n - 1]?.startSeq ?? source.nextSeq;
  } else {
    // Up to the last finished turn: the live fold (from the last compaction, as a resume
    // reads it) tells whether a turn is still open, and where it started.
    source = await replay(store, sourceId, read);
    cut = source.restored().openTurn?.startSeq ?? source.nextSeq;
  }
  const upTo = cut - 1;
  // Kept whole: the source's own fold is the fork's state; otherwise fold again up to the cut.
  const fold = cut === source.nextSeq ? source : await replay(store, sourceId, { ...read, upToSeq: upTo });
  const base = fold.restored();
  const id = newConversationId();
  const meta: SessionMetaPayload = {
    format: LOG_FORMAT_VERSION,
    id,
    created_at: new Date(idTime(id)).toISOString(),
    forked_from: { id: sourceId, up_to_seq: upTo },
    config: base.config,
    ...(options.name !== undefined ? { name: options.name } : base.name !== null ? { name: base.name } : {}),
    ...(source.meta?.metadata !== undefined ? { metadata: source.meta.metadata } : {}),
    source: 'colloquy',
  };
  const restore = { ...base, queue: [], openTurn: null, failed: null, ...(options.name !== undefined ? { name: options.name } : {}) };
  return { id, seed: { create: { meta, seq: cut }, restore }, fold };
}
