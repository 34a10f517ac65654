/**
 * The ops a conversation handle sent and waits for: each is taken by the actor (it emits
 * `@colloquy.accepted` with the last `seq` of the records it made) or refused (it is not taken),
 * and its caller's promise settles once those records are durable (`@colloquy.durable`), or
 * fails with the conversation.
 */
import { StoreError } from '../errors.js';
import type { Op } from '../protocol/ops.js';
import type { LogRecord } from '../protocol/records.js';

/** What a refusal is worked out from: the op (an append carries the `seq` it expected). */
export type SentOp = Op | { readonly type: 'records.append'; readonly expectedSeq?: number };

interface PendingOp {
  readonly op: SentOp;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  /** Told the records its step recorded, when the actor takes it. */
  readonly onAccepted?: (records: readonly LogRecord[]) => void;
  /** Rejected when its records cannot be written, rather than waiting for a `retry`. */
  readonly failFast: boolean;
}

interface DurableWaiter {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly failFast: boolean;
}

/** Ops sent and not yet taken, and callers waiting for a `seq` to be durable. */
export class PendingOps {
  readonly #ops = new Map<string, PendingOp>();
  #waiters: DurableWaiter[] = [];
  #durableSeq = -1;

  /** Nothing is waiting. */
  get idle(): boolean {
    return this.#ops.size === 0 && this.#waiters.length === 0;
  }

  /** Start over at a new actor's highest durable `seq`. */
  reset(durableSeq: number): void {
    this.#durableSeq = durableSeq;
  }

  /**
   * Wait for op `submissionId`: the promise settles once the actor took it and its records are
   * durable. With `onAccepted`, the records of its step are handed over and a failure to write
   * them rejects at once.
   */
  add(submissionId: string, op: SentOp, onAccepted?: (records: readonly LogRecord[]) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#ops.set(submissionId, { op, resolve, reject, failFast: onAccepted !== undefined, ...(onAccepted ? { onAccepted } : {}) });
    });
  }

  /**
   * Take op `submissionId` out, not taken by an actor: whoever settles it now (a routed op's
   * outcome) gets its caller's resolve, reject and `onAccepted`.
   */
  take(submissionId: string): Pick<PendingOp, 'resolve' | 'reject' | 'onAccepted'> | undefined {
    const op = this.#ops.get(submissionId);
    if (op) this.#ops.delete(submissionId);
    return op;
  }

  /** Whether op `submissionId` is still waiting to be taken. */
  waiting(submissionId: string): boolean {
    return this.#ops.has(submissionId);
  }

  /** The actor took op `submissionId`; `records` are the records its step made (the last one at `seq`). */
  accepted(submissionId: string, seq: number, records: readonly LogRecord[]): void {
    const op = this.#ops.get(submissionId);
    if (!op) return;
    this.#ops.delete(submissionId);
    op.onAccepted?.(records);
    this.#whenDurable(seq, op.failFast).then(op.resolve, op.reject);
  }

  /** Refuse op `submissionId` (it was not taken) with the error `why` gives for it. */
  refuse(submissionId: string, why: (op: SentOp) => Error): void {
    const op = this.#ops.get(submissionId);
    if (!op) return;
    this.#ops.delete(submissionId);
    op.reject(why(op.op));
  }

  /** Refuse every op not taken yet. */
  refuseAll(why: (op: SentOp) => Error): void {
    for (const submissionId of [...this.#ops.keys()]) this.refuse(submissionId, why);
  }

  /** Everything up to `seq` is durable. */
  durable(seq: number): void {
    if (seq <= this.#durableSeq) return;
    this.#durableSeq = seq;
    if (this.#waiters.length === 0) return;
    const still: DurableWaiter[] = [];
    for (const w of this.#waiters) {
      if (w.seq <= seq) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** The log could not be written: waiters that asked not to wait for a `retry` fail with `message`. */
  storeFailed(message: string): void {
    if (!this.#waiters.some((w) => w.failFast)) return;
    const failing = this.#waiters.filter((w) => w.failFast);
    this.#waiters = this.#waiters.filter((w) => !w.failFast);
    for (const w of failing) w.reject(new StoreError(message));
  }

  /** Fail the ops not taken yet with `error`. */
  failOps(error: unknown): void {
    const ops = [...this.#ops.values()];
    this.#ops.clear();
    for (const op of ops) op.reject(error);
  }

  /** Fail everything waiting with `error`. */
  failAll(error: unknown): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(error);
    this.failOps(error);
  }

  #whenDurable(seq: number, failFast: boolean): Promise<void> {
    if (seq <= this.#durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ seq, resolve, reject, failFast }));
  }
}
