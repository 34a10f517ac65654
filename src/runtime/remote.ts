/**
 * A conversation another node owns, as this node's handle follows it: its fold, kept current by
 * reading the records the owner commits (told by the store: `ClusterLink.follow`), and the
 * events those records stand for, told in `seq` order and once each. Nothing here writes: ops
 * are routed to the owner (see `cluster.ts`).
 */
import { ConversationFold } from '../log/fold.js';
import { eventsOfRecord } from '../log/events.js';
import type { LogSource, ReadMode } from '../log/types.js';
import type { ThreadEvent } from '../protocol/events.js';
import type { LogRecord } from '../protocol/records.js';
import type { ClusterNode } from './cluster.js';

/** What following a conversation needs. */
export interface FollowOptions {
  readonly id: string;
  readonly store: LogSource;
  readonly cluster: ClusterNode;
  readonly readMode?: ReadMode;
  /** Each record read, folded already, with the events it stands for. */
  readonly onRecord: (record: LogRecord, events: readonly ThreadEvent[]) => void;
  readonly report: (error: unknown) => void;
}

/** The owner and the followed state of a conversation owned by another node. */
export class RemoteFollower {
  /** The node that owns the conversation (as last known). */
  owner: string;
  /** The conversation's state from its records, as far as they were read. */
  readonly fold: ConversationFold;
  readonly #o: FollowOptions;
  #unfollow: (() => void) | null = null;
  #reading: Promise<void> | null = null;
  /** The log grew past what is being read: read again after. */
  #again = false;
  #stopped = false;

  constructor(owner: string, fold: ConversationFold, options: FollowOptions) {
    this.owner = owner;
    this.fold = fold;
    this.#o = options;
  }

  /** Start following: every commit of the owner is read here. */
  start(): void {
    if (this.#unfollow || this.#stopped) return;
    this.#unfollow = this.#o.cluster.follow(this.#o.id, (lastSeq) => {
      // null: following is in place (or news may have been missed): read what was committed.
      if (lastSeq === null || lastSeq >= this.fold.nextSeq) void this.catchUp();
    });
    // What was committed before the follow began.
    void this.catchUp();
  }

  /** Stop following (the conversation was taken over here, or the handle let go). */
  stop(): void {
    this.#stopped = true;
    this.#unfollow?.();
    this.#unfollow = null;
  }

  /**
   * Read and tell every record after the last one read, up to the end of the log; resolves once
   * read (a failure is reported: the next commit or call reads again).
   */
  catchUp(): Promise<void> {
    if (this.#reading) {
      this.#again = true;
      return this.#reading;
    }
    this.#reading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#read();
        } while (this.#again);
      } catch (err) {
        this.#o.report(err);
      } finally {
        this.#reading = null;
      }
    })();
    return this.#reading;
  }

  async #read(): Promise<void> {
    const from = this.fold.nextSeq;
    for await (const record of this.#o.store.read(this.#o.id, { fromSeq: from, ...(this.#o.readMode ? { mode: this.#o.readMode } : {}) })) {
      // A store may start earlier (a log whose records start after `from`): what was read is skipped.
      if (record.seq < this.fold.nextSeq) continue;
      this.fold.apply(record);
      this.#o.onRecord(record, eventsOfRecord(record));
    }
  }
}
