/**
 * The runtime's conversations by id. Active and dormant ones (and those being activated) are
 * held; a passivated one is held weakly: its handle stays valid for whoever keeps it, and one
 * nobody keeps leaves memory (its log holds it; `resume` makes a new handle).
 */
import type { Conversation } from './conversation.js';

/** The conversations of a runtime, by id. */
export class Registry {
  readonly #held = new Map<string, Conversation>();
  readonly #asleep = new Map<string, WeakRef<Conversation>>();
  readonly #forget = new FinalizationRegistry<string>((id) => {
    if (this.#asleep.get(id)?.deref() === undefined) this.#asleep.delete(id);
  });

  /** The conversation with this id, if the runtime has a handle for it. */
  get(id: string): Conversation | undefined {
    return this.#held.get(id) ?? this.#asleep.get(id)?.deref();
  }

  /** Hold `handle` (a new one, or a passivated one being brought back). */
  hold(handle: Conversation): void {
    this.#asleep.delete(handle.id);
    this.#held.set(handle.id, handle);
  }

  /** Hold `handle` weakly only (it was passivated). */
  release(handle: Conversation): void {
    if (this.#held.get(handle.id) === handle) this.#held.delete(handle.id);
    this.#asleep.set(handle.id, new WeakRef(handle));
    this.#forget.register(handle, handle.id);
  }

  /** Forget the conversation `id` (closed), unless another handle took its place. */
  remove(id: string, handle?: Conversation): void {
    if (!handle || this.#held.get(id) === handle) this.#held.delete(id);
    if (!handle || this.#asleep.get(id)?.deref() === handle) this.#asleep.delete(id);
  }

  /** Conversations held now (active, dormant, being activated). */
  get held(): number {
    return this.#held.size;
  }

  /** The conversations held now. */
  heldHandles(): Conversation[] {
    return [...this.#held.values()];
  }

  /** The handles held weakly that are still in memory (passivated, or followed from another node). */
  weakHandles(): Conversation[] {
    const handles: Conversation[] = [];
    for (const ref of this.#asleep.values()) {
      const handle = ref.deref();
      if (handle) handles.push(handle);
    }
    return handles;
  }
}
