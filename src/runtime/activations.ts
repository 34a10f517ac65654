/**
 * What the shard supervisors decide, carried out for the runtime: a spawned conversation actor
 * is attached to its handle, a conversation is read back from its log (its lease taken first),
 * a passivated one is let go, an ended one forgotten, one that failed past its restart budget
 * given up. Events about all of this go to the runtime's subscribers.
 */
import type { AnyEventObject } from 'xstate';
import type { HydrateInput } from '../../machines/shard.machine.js';
import { ColloquyError, SessionLockedError, SessionNotFoundError } from '../errors.js';
import type { ConversationFold } from '../log/fold.js';
import { replay } from '../log/replay.js';
import type { RestoredConversation } from '../log/restored.js';
import type { LogIssue, PersistFailure, ReadMode } from '../log/types.js';
import type { Store } from '../store/store.js';
import type { Leases } from './leases.js';
import type { Registry } from './registry.js';
import type { RuntimeEvent } from './runtime-events.js';
import type { ActorSystem, SystemEffects } from './system.js';

/** What carrying out the shards' decisions needs. */
export interface ActivationsOptions {
  readonly store: Store;
  readonly registry: Registry;
  readonly leases: Leases;
  /** The actor system (built after these effects, which it is given). */
  readonly system: () => ActorSystem;
  readonly readMode?: ReadMode;
  readonly report: (error: unknown, conversationId?: string) => void;
  readonly tell: (event: RuntimeEvent) => void;
  /** This runtime's node id, when its store is shared by a cluster of nodes. */
  readonly nodeId?: string;
}

/**
 * An activation found the conversation owned by another live node: it is followed from there.
 * A private token the hydration rejects with, never an error anyone sees (`activationFailed` takes it).
 */
class OwnedElsewhere {
  readonly owner: string;
  readonly fold: ConversationFold;
  constructor(owner: string, fold: ConversationFold) {
    this.owner = owner;
    this.fold = fold;
  }
}

/** The runtime's side of every activation. */
export class Activations implements SystemEffects {
  readonly #o: ActivationsOptions;
  /** Starts whose header is being written: who waits for it. */
  readonly #starting = new Map<string, (failure: PersistFailure | null) => void>();
  /** Conversations being read back: their log issues come with the replay, not from the store's watch. */
  readonly #hydrating = new Set<string>();

  constructor(options: ActivationsOptions) {
    this.#o = options;
  }

  /** Whether conversation `id` is being read back from its log now. */
  hydrating(id: string): boolean {
    return this.#hydrating.has(id);
  }

  /** Resolves with the failure to write a started conversation's header, or null once it is durable. */
  whenStarted(id: string): Promise<PersistFailure | null> {
    return new Promise((done) => this.#starting.set(id, done));
  }

  /** Read a conversation back from its log for its shard (taking its lease first, unless held). */
  async hydrate({ id, origin }: HydrateInput): Promise<RestoredConversation> {
    const { store, registry, leases } = this.#o;
    const handle = registry.get(id);
    if (!handle) throw new SessionNotFoundError(id, store.description);
    let acquired = false;
    if (origin === 'restart') {
      // Let what the dead actor sent settle, and drop what it could not write: its log is the truth.
      await this.#o.system().flush();
      this.#o.system().discard(id);
    } else if (!leases.holds(id)) {
      if (!(await store.exists(id))) throw new SessionNotFoundError(id, store.description);
      // Take the write lease first, so the log read is the log this process goes on writing.
      try {
        await leases.acquire(id);
      } catch (err) {
        const owner = err instanceof SessionLockedError ? err.holder.node : undefined;
        if (this.#o.nodeId === undefined || owner === undefined || owner === this.#o.nodeId) throw err;
        // Another node of the cluster owns it: its state is read (no lease needed) to follow it.
        const fold = await replay(store, id, this.#o.readMode ? { mode: this.#o.readMode } : {});
        throw new OwnedElsewhere(owner, fold);
      }
      acquired = true;
      // Taken over from a node that owned it: what that node wrote is told before it goes on here.
      await handle.leaveRemote();
    }
    this.#hydrating.add(id);
    try {
      const issues: LogIssue[] = [];
      const fold = await replay(store, id, { ...(this.#o.readMode ? { mode: this.#o.readMode } : {}), onIssue: (issue) => void issues.push(issue) });
      // What the replay found (lines skipped in lenient mode) stays visible on the conversation.
      handle.loaded(fold, issues);
      return fold.restored();
    } catch (err) {
      if (acquired) void leases.release(id);
      throw err;
    } finally {
      this.#hydrating.delete(id);
    }
  }

  activated: SystemEffects['activated'] = (id, origin, actor, buffered) => {
    const handle = this.#o.registry.get(id);
    if (!handle) {
      // Nobody holds it any more (a passivated handle that was collected): end it.
      this.#o.system().send({ type: 'conversation.terminate', id });
      return;
    }
    this.#o.registry.hold(handle);
    handle.attach(actor, buffered, origin === 'restart');
    this.#o.tell({ type: 'conversation.activated', conversationId: id, origin });
  };

  activationFailed: SystemEffects['activationFailed'] = (id, origin, error, buffered: readonly AnyEventObject[] = []) => {
    if (origin === 'restart') return this.givenUp(id, error);
    const handle = this.#o.registry.get(id);
    if (handle && error instanceof OwnedElsewhere) {
      // Held weakly, as a passivated handle: whoever keeps it keeps it.
      handle.becomeRemote(error.owner, error.fold, buffered);
      this.#o.registry.release(handle);
      return;
    }
    handle?.activationFailed(error);
    if (!handle) return;
    if (origin === 'resume') this.#o.registry.remove(id, handle);
    // Still passivated (another process took it over, say): held weakly again.
    else if (handle.residency === 'passivated') this.#o.registry.release(handle);
  };

  started: SystemEffects['started'] = (id, failure) => {
    const waiter = this.#starting.get(id);
    this.#starting.delete(id);
    waiter?.(failure);
  };

  mayPassivate: SystemEffects['mayPassivate'] = (id) => this.#o.registry.get(id)?.mayPassivate() ?? false;

  sweep: SystemEffects['sweep'] = (now, idleMs) => {
    const system = this.#o.system();
    for (const handle of this.#o.registry.heldHandles()) {
      if (handle.idleFor(now, idleMs)) system.send({ type: 'conversation.passivate', id: handle.id });
    }
    // Conversations other nodes own, followed here and unused: no longer followed (the next use follows them again).
    if (this.#o.nodeId !== undefined) for (const handle of this.#o.registry.weakHandles()) if (handle.remoteIdleFor(now, idleMs)) handle.letGo();
  };

  passivated: SystemEffects['passivated'] = (id) => {
    const handle = this.#o.registry.get(id);
    if (!handle) return;
    handle.passivated();
    this.#o.registry.release(handle);
    void this.#o.leases.release(id);
    this.#o.tell({ type: 'conversation.passivated', conversationId: id });
  };

  exited: SystemEffects['exited'] = (id) => {
    const handle = this.#o.registry.get(id);
    if (handle) this.#o.registry.remove(id, handle);
    this.#o.system().discard(id);
    handle?.markClosed(undefined, this.#o.leases.release(id));
    this.#o.tell({ type: 'conversation.closed', conversationId: id });
  };

  failed: SystemEffects['failed'] = (id, error) => {
    this.#o.registry.get(id)?.markUnavailable(error instanceof Error ? error : new Error(String(error)));
  };

  givenUp: SystemEffects['givenUp'] = (id, error) => {
    const handle = this.#o.registry.get(id);
    if (handle) this.#o.registry.remove(id, handle);
    const reason = error instanceof Error ? error : new Error(String(error));
    handle?.markClosed(
      new ColloquyError('conversation_failed', `conversation ${id} failed and was not restarted: ${reason.message}`, { cause: error }),
      this.#o.leases.release(id),
    );
    this.#o.report(reason, id);
  };
}
