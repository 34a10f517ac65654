/**
 * The write leases a runtime holds (one per conversation it writes: SPEC §5). Operations on one
 * conversation's lease run one after the other, so a release never overtakes a later acquire
 * (a passivated conversation woken at once takes its lease again only after giving it up).
 */
import type { Store } from '../store/store.js';

/** The leases this runtime holds, taken and given up through its store. */
export class Leases {
  readonly #store: Store;
  readonly #report: (error: unknown, conversationId: string) => void;
  readonly #held = new Set<string>();
  readonly #queue = new Map<string, Promise<void>>();

  constructor(store: Store, report: (error: unknown, conversationId: string) => void) {
    this.#store = store;
    this.#report = report;
  }

  /** Whether this runtime holds conversation `id`'s lease. */
  holds(id: string): boolean {
    return this.#held.has(id);
  }

  /**
   * Take conversation `id`'s lease.
   * @throws {SessionLockedError} naming the holder when another live process writes it.
   */
  async acquire(id: string): Promise<void> {
    await this.#run(id, () => this.#store.acquire(id));
    this.#held.add(id);
  }

  /** Give up conversation `id`'s lease, if held; resolves once it is given up (failures are reported, never thrown). */
  release(id: string): Promise<void> {
    if (!this.#held.delete(id)) return Promise.resolve();
    return this.#run(id, () => this.#store.release(id)).catch((err: unknown) => this.#report(err, id));
  }

  /** Run `op` on `id`'s lease after every earlier operation on it. */
  #run(id: string, op: () => Promise<void>): Promise<void> {
    const next = (this.#queue.get(id) ?? Promise.resolve()).then(op);
    const tail = next.catch(() => {});
    this.#queue.set(id, tail);
    void tail.then(() => {
      if (this.#queue.get(id) === tail) this.#queue.delete(id);
    });
    return next;
  }
}
